// English first, Chinese (zh-CN) second. Strings are keyed by their English text, so a missing
// translation shows English; `{name}` placeholders are filled from `vars`.
import { ZH } from './zh-CN.js';

const KEY = 'gw.lang';
export const LANGS = [['en', 'English'], ['zh-CN', '简体中文']];
let lang = localStorage.getItem(KEY) || (navigator.language?.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en');
const listeners = new Set();

export const currentLang = () => lang;
export function setLang(next) {
  lang = next;
  localStorage.setItem(KEY, next);
  document.documentElement.lang = next;
  listeners.forEach(fn => fn(next));
}
export const onLang = fn => { listeners.add(fn); return () => listeners.delete(fn); };

export function t(text, vars) {
  let s = (lang === 'zh-CN' && ZH[text]) || text;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}
document.documentElement.lang = lang;
