//! Prompt rules: ordered rewrites of the canonical request, configured per virtual model, so they
//! work on every inbound endpoint and every upstream. They only ever add, replace or edit text:
//! images, tool calls and tool results are never dropped.
//!
//! Templates may use `{{user_prompt}}` (the last user message's text), `{{date}}` (UTC,
//! `YYYY-MM-DD`), `{{model}}` (the model name the caller asked for) and `{{key_name}}`.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::canonical::{Block, CacheAt, Request, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOp {
    /// Replace the system prompt (or add one).
    SystemSet,
    SystemPrepend,
    SystemAppend,
    /// Add text before the last user message's text.
    Prepend,
    /// Add text after the last user message's text.
    Append,
    /// Replace the last user message's text.
    Replace,
    /// Regex find/replace over user (or all) message text; `template` is the replacement (`$1`…).
    RegexReplace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    User,
    All,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub op: RuleOp,
    #[serde(default)]
    pub template: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Apply only while the conversation has a single user turn.
    #[serde(default)]
    pub first_turn_only: bool,
    /// `regex_replace`: the pattern.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// `regex_replace`: which messages' text.
    #[serde(default)]
    pub scope: Scope,
}

fn yes() -> bool {
    true
}

/// What templates can refer to.
#[derive(Debug, Clone)]
pub struct Vars<'a> {
    pub model: &'a str,
    pub key_name: &'a str,
    pub now_ms: i64,
    /// How many bytes the rules may add to the request in all: the size limit minus what the
    /// caller sent (`usize::MAX` where nothing is sent on).
    pub room: usize,
}

/// Why a request's rules could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// One rule failed (a pattern that does not compile, one rule's output too large).
    Failed(String),
    /// The rules together would add more than [`Vars::room`] bytes.
    TooLarge,
}

const MAX_TEMPLATE: usize = 16 * 1024;
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// How often one template may repeat the user's prompt (checked when rules are saved).
pub const MAX_PROMPT_COPIES: usize = 2;
/// The most text one rule may produce: a rendered template, or one message after a regex
/// replacement (checked as rules run, so rules written to the database by hand are bounded too).
pub const MAX_RULE_OUTPUT: usize = 8 << 20;

/// How many `{{user_prompt}}` placeholders `template` has.
fn prompt_copies(template: &str) -> usize {
    template
        .split("{{")
        .skip(1)
        .filter(|rest| rest.split_once("}}").is_some_and(|(name, _)| name.trim() == "user_prompt"))
        .count()
}

fn too_large() -> String {
    format!("the rule's output would exceed {} MiB", MAX_RULE_OUTPUT >> 20)
}

fn compile(pattern: &str) -> Result<Regex, String> {
    if uses_class_tables(pattern) {
        return Err("Unicode property classes (\\p{…}, \\P{…}) are not supported; use character \
            ranges (e.g. [\\u{4E00}-\\u{9FFF}] for CJK ideographs)"
            .into());
    }
    RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| e.to_string())
}

/// Whether `pattern` uses a Unicode property class (`\p{…}`, `\pL`, `\P…`): the builds ship
/// without those tables (147 KB of the Worker), so every host refuses them alike.
fn uses_class_tables(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.next(), Some('p' | 'P')) {
            return true;
        }
    }
    false
}

/// Checks rules before they are stored; the error names the rule and what is wrong.
pub fn validate(rules: &[Rule]) -> Result<(), (usize, String)> {
    if rules.len() > 50 {
        return Err((50, "at most 50 rules".into()));
    }
    for (i, r) in rules.iter().enumerate() {
        if r.template.len() > MAX_TEMPLATE {
            return Err((i, format!("template longer than {MAX_TEMPLATE} bytes")));
        }
        if prompt_copies(&r.template) > MAX_PROMPT_COPIES {
            return Err((
                i,
                format!("a template may use {{{{user_prompt}}}} at most {MAX_PROMPT_COPIES} times"),
            ));
        }
        match (r.op, &r.pattern) {
            (RuleOp::RegexReplace, None) => return Err((i, "regex_replace needs `match`".into())),
            (RuleOp::RegexReplace, Some(p)) => compile(p).map(|_| ()).map_err(|e| (i, e))?,
            (_, Some(_)) => return Err((i, "`match` is only for regex_replace".into())),
            _ if r.template.trim().is_empty() && r.op != RuleOp::SystemSet => {
                return Err((i, "template must not be empty".into()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The Unix day `ms` falls on, as `YYYY-MM-DD` (proleptic Gregorian, UTC).
pub fn date(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Fills `{{name}}` placeholders (spaces inside the braces allowed); unknown ones stay as written.
/// Fails when the result would pass [`MAX_RULE_OUTPUT`].
pub fn render(template: &str, request: &Request, vars: &Vars<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut prompt: Option<String> = None;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let piece = match after[..end].trim() {
            "user_prompt" => prompt.get_or_insert_with(|| user_prompt(request)).as_str(),
            "date" => &date(vars.now_ms),
            "model" => vars.model,
            "key_name" => vars.key_name,
            _ => &rest[start..start + 2 + end + 2],
        };
        if out.len() + piece.len() > MAX_RULE_OUTPUT {
            return Err(too_large());
        }
        out.push_str(piece);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `text` with every match of `re` replaced by `template` (`$1`, `${name}`), refusing to grow
/// past [`MAX_RULE_OUTPUT`] (a pattern matching every character with a long replacement would).
fn replace_bounded(re: &Regex, text: &str, template: &str) -> Result<Option<String>, String> {
    let mut out = String::new();
    let mut last = 0;
    let mut replaced = false;
    for caps in re.captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(&text[last..whole.start()]);
        caps.expand(template, &mut out);
        last = whole.end();
        replaced = true;
        if out.len() > MAX_RULE_OUTPUT {
            return Err(too_large());
        }
    }
    if !replaced {
        return Ok(None);
    }
    out.push_str(&text[last..]);
    if out.len() > MAX_RULE_OUTPUT {
        return Err(too_large());
    }
    Ok(Some(out))
}

fn is_turn(content: &[Block]) -> bool {
    content.iter().any(|b| matches!(b, Block::Text(_) | Block::Image(_)))
}

/// The last user message that the user wrote (not only tool results).
fn last_user(request: &Request) -> Option<usize> {
    request.messages.iter().rposition(|m| m.role == Role::User && is_turn(&m.content))
}

fn user_prompt(request: &Request) -> String {
    last_user(request)
        .map_or_else(String::new, |i| crate::canonical::blocks_text(&request.messages[i].content))
}

/// Applies the enabled rules in order; returns whether the request changed. Each rule's output is
/// bounded ([`MAX_RULE_OUTPUT`]) and so is what they add together ([`Vars::room`]): rules that
/// double the prompt in turn stop at the request's size limit, not at memory's.
pub fn apply(rules: &[Rule], request: &mut Request, vars: &Vars<'_>) -> Result<bool, RuleError> {
    let before = request.clone();
    let first_turn =
        request.messages.iter().filter(|m| m.role == Role::User && is_turn(&m.content)).count()
            <= 1;
    let start = text_bytes(request);
    for rule in rules.iter().filter(|r| r.enabled && (first_turn || !r.first_turn_only)) {
        let left = vars.room.saturating_sub(text_bytes(request).saturating_sub(start));
        apply_one(rule, request, vars, left).map_err(RuleError::Failed)?;
        // What the rules added so far, net (a `replace` takes the old text away).
        if text_bytes(request).saturating_sub(start) > vars.room {
            return Err(RuleError::TooLarge);
        }
    }
    Ok(*request != before)
}

/// The bytes of text rules can change: the system prompt and the messages' text blocks.
fn text_bytes(request: &Request) -> usize {
    let system: usize = request.system.iter().map(String::len).sum();
    let texts = request.messages.iter().flat_map(|m| &m.content).map(|b| match b {
        Block::Text(t) => t.len(),
        _ => 0,
    });
    system + texts.sum::<usize>()
}

/// Applies one rule; a `regex_replace` stops once it has added more than `left` bytes (the
/// caller then refuses the request).
fn apply_one(
    rule: &Rule,
    request: &mut Request,
    vars: &Vars<'_>,
    left: usize,
) -> Result<(), String> {
    if rule.op == RuleOp::RegexReplace {
        let re = compile(rule.pattern.as_deref().unwrap_or_default())?;
        let mut added = 0usize;
        for m in
            request.messages.iter_mut().filter(|m| rule.scope == Scope::All || m.role == Role::User)
        {
            for block in &mut m.content {
                if let Block::Text(t) = block
                    && let Some(replaced) = replace_bounded(&re, t, &rule.template)?
                {
                    added += replaced.len().saturating_sub(t.len());
                    *t = replaced;
                    if added > left {
                        return Ok(());
                    }
                }
            }
        }
        return Ok(());
    }
    let text = render(&rule.template, request, vars)?;
    // Prompt-cache breakpoints move with the parts they mark; a breakpoint on replaced text
    // marks the text that replaced it.
    match rule.op {
        RuleOp::SystemSet => {
            let keep = !text.is_empty();
            request.system = if keep { vec![text] } else { vec![] };
            request.remap_marks(|at| match at {
                CacheAt::System(_) => keep.then_some(CacheAt::System(0)),
                other => Some(other),
            });
        }
        RuleOp::SystemPrepend => {
            request.system.insert(0, text);
            request.remap_marks(|at| match at {
                CacheAt::System(i) => Some(CacheAt::System(i + 1)),
                other => Some(other),
            });
        }
        RuleOp::SystemAppend => request.system.push(text),
        RuleOp::Prepend | RuleOp::Append | RuleOp::Replace => {
            let Some(i) = last_user(request) else { return Ok(()) };
            let moved = edit_user(&mut request.messages[i].content, rule.op, text);
            request.remap_marks(|at| match at {
                CacheAt::Block { message, block } if message == i => {
                    moved[block].map(|block| CacheAt::Block { message, block })
                }
                other => Some(other),
            });
        }
        RuleOp::RegexReplace => {}
    }
    Ok(())
}

/// Adds text at the start (after any tool results) or end of one user message, or replaces its
/// text, keeping every non-text block where it is. Returns where each block that was there went
/// (replaced text: to the text that replaced it, or nowhere when there is none).
fn edit_user(content: &mut Vec<Block>, op: RuleOp, text: String) -> Vec<Option<usize>> {
    let before = content.len();
    let texts: Vec<usize> = content
        .iter()
        .enumerate()
        .filter(|(_, b)| matches!(b, Block::Text(_)))
        .map(|(i, _)| i)
        .collect();
    // Without text, new text goes after any tool results (which must lead the turn).
    let after_results =
        content.iter().take_while(|b| matches!(b, Block::ToolResult { .. })).count();
    let first = texts.first().copied().unwrap_or(after_results);
    let same: Vec<Option<usize>> = (0..before).map(Some).collect();
    match op {
        RuleOp::Prepend if !text.is_empty() => {
            content.insert(after_results, Block::Text(text));
            (0..before).map(|b| Some(if b >= after_results { b + 1 } else { b })).collect()
        }
        RuleOp::Append if !text.is_empty() => {
            content.push(Block::Text(text));
            same
        }
        RuleOp::Replace => {
            for i in texts.iter().rev() {
                content.remove(*i);
            }
            // Where each kept block now is, counting the removed texts before it.
            let mut moved: Vec<Option<usize>> = (0..before)
                .map(|b| {
                    (!texts.contains(&b)).then(|| b - texts.iter().filter(|t| **t < b).count())
                })
                .collect();
            if !text.is_empty() {
                let at = first.min(content.len());
                content.insert(at, Block::Text(text));
                for (b, to) in moved.iter_mut().enumerate() {
                    *to = match *to {
                        None if texts.contains(&b) => Some(at),
                        Some(n) if n >= at => Some(n + 1),
                        other => other,
                    };
                }
            }
            moved
        }
        _ => same,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{ImageSource, Message};

    fn rule(op: RuleOp, template: &str) -> Rule {
        Rule {
            op,
            template: template.into(),
            enabled: true,
            first_turn_only: false,
            pattern: None,
            scope: Scope::User,
        }
    }

    fn vars() -> Vars<'static> {
        // 2026-01-01
        Vars { model: "smart", key_name: "team-a", now_ms: 1_767_225_600_000, room: usize::MAX }
    }

    fn request() -> Request {
        Request {
            system: vec!["Be brief.".into()],
            messages: vec![Message {
                role: Role::User,
                content: vec![
                    Block::Image(ImageSource::Url("https://x/cat.png".into())),
                    Block::Text("What is this?".into()),
                ],
            }],
            ..Request::default()
        }
    }

    #[test]
    fn unicode_property_classes_are_refused_on_every_host() {
        for pattern in [r"\p{Han}+", r"x\pL", r"[\P{Greek}]"] {
            assert!(compile(pattern).unwrap_err().contains("not supported"), "{pattern}");
        }
        // An escaped backslash before `p` is a literal backslash, then a `p`.
        assert!(compile(r"\\p{2}").unwrap().is_match(r"\pp"));
        assert!(compile("[\u{4E00}-\u{9FFF}]+").unwrap().is_match("世界"));
    }

    #[test]
    fn patterns_are_unicode_aware() {
        let re = compile(r"(?i)straße\s\w+\d").unwrap();
        assert!(re.is_match("STRASSE 世界9") || re.is_match("Straße 世界9"));
        assert!(compile(r"\d+").unwrap().is_match("٣"), "Unicode digits");
    }

    #[test]
    fn cache_breakpoints_move_with_the_parts_they_mark() {
        use crate::canonical::CacheMark;
        let hour = CacheMark { ttl: Some("1h".into()) };
        let marked = || {
            let mut r = request();
            r.messages[0].content.push(Block::Text("Answer in French.".into()));
            r.cache_marks = vec![
                (CacheAt::System(0), hour.clone()),
                (CacheAt::Block { message: 0, block: 0 }, CacheMark::default()),
                (CacheAt::Block { message: 0, block: 2 }, CacheMark::default()),
            ];
            r
        };
        let at = |r: &Request| r.cache_marks.iter().map(|(a, _)| *a).collect::<Vec<_>>();
        let block = |b| CacheAt::Block { message: 0, block: b };

        let mut r = marked();
        apply(&[rule(RuleOp::SystemPrepend, "Policy.")], &mut r, &vars()).unwrap();
        assert_eq!(at(&r), [CacheAt::System(1), block(0), block(2)]);
        assert_eq!(r.mark(CacheAt::System(1)), Some(&hour), "the TTL travels too");

        let mut r = marked();
        apply(&[rule(RuleOp::SystemSet, "Only this.")], &mut r, &vars()).unwrap();
        assert_eq!(at(&r), [CacheAt::System(0), block(0), block(2)]);
        let mut r = marked();
        apply(&[rule(RuleOp::SystemSet, "")], &mut r, &vars()).unwrap();
        assert_eq!(at(&r), [block(0), block(2)], "no instructions left to mark");

        // Prepended text goes before the image (no tool results lead this turn).
        let mut r = marked();
        apply(&[rule(RuleOp::Prepend, "Context.")], &mut r, &vars()).unwrap();
        assert_eq!(at(&r), [CacheAt::System(0), block(1), block(3)]);
        let mut r = marked();
        apply(&[rule(RuleOp::Append, "Thanks.")], &mut r, &vars()).unwrap();
        assert_eq!(at(&r), [CacheAt::System(0), block(0), block(2)]);

        // Replaced texts: their breakpoint marks the new text (at the first text's place).
        let mut r = marked();
        apply(&[rule(RuleOp::Replace, "New question.")], &mut r, &vars()).unwrap();
        assert_eq!(r.messages[0].content[1], Block::Text("New question.".into()));
        assert_eq!(at(&r), [CacheAt::System(0), block(0), block(1)]);
        let mut r = marked();
        apply(&[rule(RuleOp::Replace, "")], &mut r, &vars()).unwrap();
        assert_eq!(at(&r), [CacheAt::System(0), block(0)], "the marked text is gone");

        // Regex edits change text in place: nothing moves.
        let mut regex = rule(RuleOp::RegexReplace, "francais");
        regex.pattern = Some("French".into());
        let mut r = marked();
        assert!(apply(&[regex], &mut r, &vars()).unwrap());
        assert_eq!(at(&r), at(&marked()));
    }

    #[test]
    fn expansion_is_bounded_when_saved_and_when_run() {
        let many = "{{user_prompt}}".repeat(1000);
        let err = validate(&[rule(RuleOp::Append, &many)]).unwrap_err();
        assert!(err.1.contains("at most 2 times"), "{err:?}");
        assert!(validate(&[rule(RuleOp::Append, "{{ user_prompt }} / {{user_prompt}}")]).is_ok());
        // A rule written to the database by hand is still bounded when it runs.
        let mut r = request();
        r.messages[0].content = vec![Block::Text("x".repeat(1 << 20))];
        let err = apply(&[rule(RuleOp::Replace, &many)], &mut r, &vars()).unwrap_err();
        assert!(
            matches!(&err, RuleError::Failed(m) if m.contains("would exceed 8 MiB")),
            "{err:?}"
        );
        let mut regex = rule(RuleOp::RegexReplace, &"y".repeat(16 * 1024));
        regex.pattern = Some(".".into());
        let err = apply(&[regex], &mut r, &vars()).unwrap_err();
        assert!(matches!(&err, RuleError::Failed(m) if m.contains("would exceed")), "{err:?}");
    }

    /// Rules each within their own bound still cannot grow the request past its size limit
    /// together: twelve doubling `replace` rules and twenty `system_append` rules repeating the
    /// prompt turn 1 KB into 84 MB; they stop at the room the request has.
    #[test]
    fn rules_together_stop_at_the_requests_room() {
        let double = "{{user_prompt}}{{user_prompt}}";
        let mut doubling: Vec<Rule> = (0..12).map(|_| rule(RuleOp::Replace, double)).collect();
        doubling.extend((0..20).map(|_| rule(RuleOp::SystemAppend, "{{user_prompt}}")));
        let mut r = request();
        r.messages[0].content = vec![Block::Text("x".repeat(1024))];
        let room = Vars { room: 10 << 20, ..vars() };
        assert_eq!(apply(&doubling, &mut r, &room), Err(RuleError::TooLarge));
        let total: usize = r.messages[0]
            .content
            .iter()
            .map(|b| match b {
                Block::Text(t) => t.len(),
                _ => 0,
            })
            .sum::<usize>()
            + r.system.iter().map(String::len).sum::<usize>();
        assert!(total < 3 * (10 << 20), "stopped near the room, not at 176 MB: {total}");
        // With room enough, the same rules run; what a `replace` takes away counts too: a 6 MB
        // prompt wrapped twice grows by the wrappers only.
        let mut r = request();
        let few = &doubling[..2];
        assert!(apply(few, &mut r, &Vars { room: 1 << 20, ..vars() }).unwrap());
        let wrap = rule(RuleOp::Replace, "<q>{{user_prompt}}</q>");
        let mut r = request();
        r.messages[0].content = vec![Block::Text("x".repeat(6 << 20))];
        let twice = [wrap.clone(), wrap];
        assert!(apply(&twice, &mut r, &Vars { room: 4 << 20, ..vars() }).unwrap());
    }

    #[test]
    fn dates_are_civil_utc_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(date(1_767_225_599_999), "2025-12-31");
        assert_eq!(date(1_767_225_600_000), "2026-01-01");
    }

    #[test]
    fn templates_fill_every_variable_and_keep_unknown_ones() {
        let r = request();
        let out = render(
            "{{model}}/{{ key_name }} on {{date}}: {{user_prompt}} {{other}} {{",
            &r,
            &vars(),
        )
        .unwrap();
        assert_eq!(out, "smart/team-a on 2026-01-01: What is this? {{other}} {{");
    }

    #[test]
    fn system_ops() {
        let mut r = request();
        apply(
            &[rule(RuleOp::SystemPrepend, "A"), rule(RuleOp::SystemAppend, "Z")],
            &mut r,
            &vars(),
        )
        .unwrap();
        assert_eq!(r.system, vec!["A", "Be brief.", "Z"]);
        apply(&[rule(RuleOp::SystemSet, "Only {{model}}")], &mut r, &vars()).unwrap();
        assert_eq!(r.system, vec!["Only smart"]);
    }

    #[test]
    fn user_ops_keep_images_and_tool_blocks() {
        let mut r = request();
        let changed = apply(
            &[rule(RuleOp::Prepend, "Context:"), rule(RuleOp::Append, "Answer in French.")],
            &mut r,
            &vars(),
        )
        .unwrap();
        assert!(changed);
        assert_eq!(
            r.messages[0].content,
            vec![
                Block::Text("Context:".into()),
                Block::Image(ImageSource::Url("https://x/cat.png".into())),
                Block::Text("What is this?".into()),
                Block::Text("Answer in French.".into()),
            ]
        );
        apply(&[rule(RuleOp::Replace, "Q: {{user_prompt}}")], &mut r, &vars()).unwrap();
        assert_eq!(
            r.messages[0].content[1],
            Block::Image(ImageSource::Url("https://x/cat.png".into()))
        );
        assert_eq!(
            r.messages[0].content[0],
            Block::Text("Q: Context:\nWhat is this?\nAnswer in French.".into())
        );
        assert_eq!(r.messages[0].content.len(), 2);
    }

    #[test]
    fn tool_results_stay_first_in_their_turn() {
        let mut r = Request {
            messages: vec![
                Message { role: Role::User, content: vec![Block::Text("hi".into())] },
                Message {
                    role: Role::Assistant,
                    content: vec![Block::ToolCall {
                        id: "c".into(),
                        name: "f".into(),
                        arguments: "{}".into(),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        Block::ToolResult { call_id: "c".into(), content: vec![], is_error: false },
                        Block::Text("and?".into()),
                    ],
                },
            ],
            ..Request::default()
        };
        apply(&[rule(RuleOp::Prepend, "P")], &mut r, &vars()).unwrap();
        assert!(matches!(r.messages[2].content[0], Block::ToolResult { .. }));
        assert_eq!(r.messages[2].content[1], Block::Text("P".into()));
        assert_eq!(r.messages[1].content.len(), 1, "assistant tool call untouched");
    }

    #[test]
    fn first_turn_only_stops_after_the_first_turn() {
        let once = Rule { first_turn_only: true, ..rule(RuleOp::Append, "!") };
        let mut r = request();
        apply(std::slice::from_ref(&once), &mut r, &vars()).unwrap();
        assert_eq!(r.messages[0].content.len(), 3);
        r.messages
            .push(Message { role: Role::Assistant, content: vec![Block::Text("A cat.".into())] });
        r.messages.push(Message { role: Role::User, content: vec![Block::Text("Sure?".into())] });
        assert!(!apply(&[once], &mut r, &vars()).unwrap());
    }

    #[test]
    fn regex_replace_over_user_or_all_text() {
        let mut r = request();
        r.messages.push(Message {
            role: Role::Assistant,
            content: vec![Block::Text("This is a cat".into())],
        });
        let user_only =
            Rule { pattern: Some(r"(?i)\bthis\b".into()), ..rule(RuleOp::RegexReplace, "that") };
        apply(std::slice::from_ref(&user_only), &mut r, &vars()).unwrap();
        assert_eq!(r.messages[0].content[1], Block::Text("What is that?".into()));
        assert_eq!(r.messages[1].content[0], Block::Text("This is a cat".into()));
        let all = Rule {
            scope: Scope::All,
            pattern: Some(r"(\w+) cat".into()),
            ..rule(RuleOp::RegexReplace, "$1 dog")
        };
        apply(&[all], &mut r, &vars()).unwrap();
        assert_eq!(r.messages[1].content[0], Block::Text("This is a dog".into()));
    }

    #[test]
    fn disabled_rules_do_nothing_and_invalid_rules_are_refused() {
        let mut r = request();
        let off = Rule { enabled: false, ..rule(RuleOp::SystemSet, "x") };
        assert!(!apply(&[off], &mut r, &vars()).unwrap());
        assert!(
            validate(&[Rule { pattern: Some("(".into()), ..rule(RuleOp::RegexReplace, "") }])
                .is_err()
        );
        assert!(validate(&[rule(RuleOp::RegexReplace, "x")]).is_err());
        assert!(
            validate(&[Rule { pattern: Some("a".into()), ..rule(RuleOp::Append, "x") }]).is_err()
        );
        assert!(validate(&[rule(RuleOp::Append, " ")]).is_err());
        assert!(
            validate(&[rule(RuleOp::SystemSet, "")]).is_ok(),
            "an empty system_set clears the system prompt"
        );
    }
}
