// 简体中文 (zh-CN) translations of the admin UI, keyed by the English text (see i18n.js).
export const ZH = {
  // navigation and shell
  'Dashboard': '仪表盘', 'Providers': '供应商', 'Models': '模型', 'Virtual models': '虚拟模型', 'Virtual keys': '虚拟密钥',
  'Request logs': '请求日志', 'Health monitoring': '健康监控', 'Settings': '设置', 'Status page': '状态页',
  'API reference': 'API 文档', 'Log out': '退出登录', 'Menu': '菜单', 'Main': '主导航',
  'Loading…': '加载中…', 'Retry': '重试', 'Close': '关闭', 'Cancel': '取消', 'Save': '保存', 'Saved': '已保存',
  'Deleted': '已删除', 'Delete': '删除', 'Edit': '编辑', 'Copy': '复制', 'Copied': '已复制', 'Done': '完成',
  'Refresh': '刷新', 'Apply': '应用', 'Clear': '清除', 'Search': '搜索', 'Remove': '移除',
  'Nothing here yet.': '暂无内容。', 'No data in this window.': '此时间范围内没有数据。', 'Enter a number': '请输入数字',
  'Invalid JSON': 'JSON 格式无效', 'no limit': '不限', 'yes': '是', 'no': '否', 'none': '无', 'all': '全部', 'any': '任意',
  'never': '永不', 'disabled': '已停用', 'all keys': '全部密钥', 'all models': '全部模型', 'Logs': '日志', 'default': '默认', 'set': '已设置', 'you': '你', 'Enabled': '启用', 'Name': '名称', 'Type': '类型',
  // login
  'Sign in': '登录', 'Username': '用户名', 'Password': '密码', 'Gateway URL': '网关地址', 'Use another gateway…': '连接其他网关…',
  'Empty: the gateway serving this page. Elsewhere, the gateway must list this origin in ADMIN_CORS_ORIGINS.':
    '留空表示提供此页面的网关。部署在其他位置时，网关需在 ADMIN_CORS_ORIGINS 中列出此来源。',
  'Public status page': '公开状态页',
  // dashboard
  '24 hours': '24 小时', '7 days': '7 天', '30 days': '30 天', 'Time window': '时间范围', 'Requests': '请求数',
  'Success rate': '成功率', 'Tokens (in / out)': 'Token（输入 / 输出）', 'Cost': '费用', 'Prompt cache: hit share / saved': '提示缓存：命中占比 / 节省', 'Latency P50 / P95': '延迟 P50 / P95',
  'First token P50 / P95': '首 Token P50 / P95', 'Errors': '错误', 'Requests and errors': '请求与错误', 'Tokens': 'Token',
  'Requests by model': '各模型请求数', 'Cost by key': '各密钥费用', 'Latency P50 by provider': '各供应商 P50 延迟', 'Errors by kind': '错误类型',
  // providers
  'Add provider': '添加供应商', 'Upstream accounts the gateway calls. Credentials are encrypted at rest and never shown again.':
    '网关调用的上游账号。凭据加密存储，保存后不再显示。',
  'No providers yet. Add one from a preset to get started.': '还没有供应商。从预设添加一个即可开始。',
  'Protocol': '协议', 'Base URL': '基础 URL', 'Credential': '凭据', 'Connectivity': '连通性', 'Test': '测试', 'Testing…': '测试中…',
  'Fetch models': '获取模型', 'OK': '正常', 'Failed': '失败', '{n} models': '{n} 个模型',
  'Delete provider {name}? Its models stop working.': '删除供应商 {name}？其模型将无法使用。',
  'New provider: {name}': '新建供应商：{name}', 'New provider': '新建供应商', 'Edit provider': '编辑供应商', 'Models of {name}': '{name} 的模型',
  'Choose a preset': '选择预设', 'Search presets…': '搜索预设…', 'Custom': '自定义', 'Any OpenAI-compatible URL': '任意 OpenAI 兼容地址',
  'API key': 'API 密钥', 'New API key (empty: keep)': '新 API 密钥（留空则不变）', 'Auth scheme': '认证方式',
  'Extra headers (JSON)': '额外请求头（JSON）', 'Strip upstream-echoed instructions (relay isolation)': '剥离上游回显的 instructions（中转隔离）',
  'Move the system prompt to': '系统提示移至', 'keep as system': '保持为 system', 'Provider added': '已添加供应商',
  // models
  'Add model': '添加模型', 'Import from provider': '从供应商导入', 'Import JSON file': '导入 JSON 文件', 'Filter models…': '筛选模型…',
  'No models yet. Import them from a provider, or add one.': '还没有模型。可从供应商导入或手动添加。',
  'Provider': '供应商', 'Upstream model': '上游模型', 'Context': '上下文', 'Input $/M': '输入 $/百万', 'Output $/M': '输出 $/百万',
  'Cached $/M': '缓存 $/百万', 'Capabilities': '能力', 'Catalog': '模型目录', 'Delete model {name}?': '删除模型 {name}？',
  'Edit model': '编辑模型', 'New model': '新建模型', 'Catalog: fill {name}': '模型目录：填充 {name}',
  'Name (what callers ask for)': '名称（调用方使用的模型名）', 'Upstream model id': '上游模型 ID', 'same as the name': '与名称相同',
  'Display name': '显示名称', 'Context window (tokens)': '上下文窗口（Token）', 'Max output tokens': '最大输出 Token',
  'Input price, $ per million tokens': '输入价格（美元/百万 Token）', 'Output price, $ per million tokens': '输出价格（美元/百万 Token）',
  'Cached input price, $ per million tokens': '缓存输入价格（美元/百万 Token）', 'Cache write price, $ per million tokens': '缓存写入价格（美元/百万 Token）', 'Capabilities (JSON)': '能力（JSON）', 'Model added': '已添加模型',
  'Applied {name}': '已应用 {name}', 'Search the catalog, e.g. gpt-4o': '搜索模型目录，如 gpt-4o', 'Refresh catalog': '刷新目录',
  'Searching the catalog…': '正在搜索目录…', 'entries': '条', 'Refreshed': '已刷新',
  'No catalog entry matches. The catalog may be off or unreachable; the gateway works without it.': '目录中没有匹配项。目录可能已关闭或无法访问；网关无需目录也能工作。',
  'Max output': '最大输出', 'Add a provider first.': '请先添加供应商。', 'Filter {n} upstream models…': '筛选 {n} 个上游模型…',
  'Name prefix (optional)': '名称前缀（可选）', 'Select all new ({n})': '全选新模型（{n}）', 'Add {n} models': '添加 {n} 个模型',
  'added': '已添加', '{n} models added': '已添加 {n} 个模型', '{n} skipped': '跳过 {n} 个',
  'Each entry needs name and provider_id; upstream_model, prices, limits and capabilities are optional. Names that exist already are skipped, so importing twice is harmless.':
    '每项需要 name 和 provider_id；upstream_model、价格、限制和能力可选。已存在的名称会被跳过，重复导入无害。',
  'The file must hold an array of models or {"models": [...]}.': '文件须为模型数组或 {"models": [...]}。', 'Importing…': '导入中…',
  // virtual models
  'Add virtual model': '添加虚拟模型', 'A name callers use like any model, routed over several targets with failover, plus prompt rules.':
    '调用方像普通模型一样使用的名称，路由到多个目标并自动故障转移，可附加提示词规则。',
  'No virtual models yet.': '还没有虚拟模型。', 'Strategy': '策略', 'Targets (live breaker)': '目标（实时熔断状态）', 'Rules': '规则',
  'Delete virtual model {name}?': '删除虚拟模型 {name}？', 'Edit virtual model': '编辑虚拟模型', 'New virtual model': '新建虚拟模型',
  'Weighted': '加权', 'Priority failover': '优先级故障转移', 'Round robin': '轮询', 'Least latency': '最低延迟', 'Sticky (session)': '粘性（会话）',
  'no traffic yet': '暂无流量', 'closed': '闭合', 'half-open': '半开', 'open': '断开', 'open (429)': '断开（429）',
  'Description': '描述', 'Targets': '目标', 'Weight': '权重', 'Priority': '优先级', 'Add target': '添加目标',
  'Deadlines and circuit breaker': '超时与熔断', 'Deadline to first byte (ms)': '首字节截止时间（毫秒）', 'Per-attempt timeout (ms)': '单次尝试超时（毫秒）',
  'Max attempts': '最大尝试次数', 'Failures to open the breaker': '触发熔断的失败次数', 'Breaker cooldown (ms)': '熔断冷却（毫秒）',
  'Prompt rules': '提示词规则', 'Applied in order on every endpoint and upstream. Templates may use {{user_prompt}}, {{date}}, {{model}}, {{key_name}}.':
    '按顺序作用于所有端点和上游。模板可使用 {{user_prompt}}、{{date}}、{{model}}、{{key_name}}。',
  'Operation': '操作', 'Set system prompt': '设置系统提示', 'Prepend to system prompt': '系统提示前插入', 'Append to system prompt': '系统提示后追加',
  'Prepend to last user message': '最后一条用户消息前插入', 'Append to last user message': '最后一条用户消息后追加',
  'Replace last user message': '替换最后一条用户消息', 'Regex replace': '正则替换', 'Pattern (regex)': '模式（正则）', 'Scope': '范围',
  'user messages': '用户消息', 'all messages': '所有消息', 'Move up': '上移', 'Move down': '下移', 'Replacement': '替换为', 'Template': '模板',
  'First turn only': '仅首轮', 'Add rule': '添加规则', 'Preview the rules (dry run)': '预览规则（试运行）', 'Sample system prompt': '示例系统提示',
  'Sample user message': '示例用户消息', 'Run preview': '运行预览', 'The rules changed the request:': '规则修改后的请求：',
  'The rules left the request unchanged.': '规则未改变请求。',
  // keys
  'Create key': '创建密钥', 'Apps call the gateway with a virtual key. Only a hash is stored: a key is shown once, when it is created.':
    '应用使用虚拟密钥调用网关。网关只保存哈希：密钥仅在创建时显示一次。',
  'No keys yet.': '还没有密钥。', 'Requests / min': '请求/分钟', 'Tokens / min': 'Token/分钟', 'Concurrent': '并发', 'Budget': '预算',
  'Expires': '过期时间', 'per day': '每天', 'per month': '每月', 'in total': '总计',
  'Delete key {name}? Apps using it stop working at once.': '删除密钥 {name}？使用它的应用将立即失效。',
  'Edit key': '编辑密钥', 'Your new key': '你的新密钥', 'Copy it now: it is shown only once.': '请立即复制：它只显示这一次。',
  'The gateway keeps only a hash.': '网关只保存其哈希。', 'Custom key (optional, 16–64 characters)': '自定义密钥（可选，16–64 个字符）',
  'generated when empty': '留空自动生成', 'Allowed models (comma separated; empty: all)': '允许的模型（逗号分隔；留空为全部）',
  'Requests per minute': '每分钟请求数', 'Tokens per minute': '每分钟 Token 数', 'Max concurrent requests': '最大并发请求',
  'Budget (USD)': '预算（美元）', 'Budget period': '预算周期', 'Allowed client IPs / CIDRs (empty: any)': '允许的客户端 IP / CIDR（留空为任意）',
  'Tags': '标签', 'Log request and response bodies': '记录请求和响应正文',
  // logs
  'Last hour': '最近 1 小时', 'Last 24 hours': '最近 24 小时', 'Last 7 days': '最近 7 天', 'All time': '全部时间',
  'Time': '时间', 'Key': '密钥', 'Model': '模型', 'Status': '状态', 'Request id': '请求 ID', '{n} requests': '{n} 个请求',
  'No requests match these filters.': '没有符合筛选条件的请求。', 'Endpoint': '端点', 'Latency': '延迟', 'Newer': '较新', 'Older': '较旧',
  'Page {page} of {pages}': '第 {page} / {pages} 页', 'Request {id}': '请求 {id}', 'Protocols': '协议', 'Model asked': '请求的模型',
  'Model served': '实际模型', 'Stream': '流式', 'Attempts': '尝试次数', 'Time to first token': '首 Token 时间', 'Input tokens': '输入 Token',
  'Output tokens': '输出 Token', 'Cached tokens': '缓存 Token', 'Cache write tokens': '缓存写入 Token', 'Saved by the prompt cache': '提示缓存节省', 'Reasoning tokens': '推理 Token', 'Client IP': '客户端 IP', 'User agent': 'User-Agent',
  'Request body': '请求正文', 'Response body': '响应正文', 'Bodies are logged only for keys with body logging on.': '只有开启正文记录的密钥才会记录正文。',
  // health
  'Open status page': '打开状态页', 'Persistent monitoring': '持续监控',
  'Probes every enabled target on its interval with a monitoring-only key and publishes the results at /status. Off: no probes, and the public endpoints answer 404.':
    '使用仅用于监控的密钥按间隔探测每个启用的目标，并在 /status 公布结果。关闭后不再探测，公开接口返回 404。',
  'Count real traffic': '统计真实流量', 'Real requests to a target also feed its availability and latency, so the page shows what users get.':
    '真实请求也计入目标的可用率和延迟，让状态页反映用户的真实体验。',
  'Health targets': '健康检查目标', 'Add health target': '添加检查目标', 'No health targets yet.': '还没有检查目标。', 'Checks': '检查对象',
  'Interval': '间隔', 'model': '模型', 'virtual model': '虚拟模型', 'Delete health target {name}? Its history goes with it.': '删除检查目标 {name}？其历史记录将一并删除。',
  'Edit health target': '编辑检查目标', 'New health target': '新建检查目标', 'Title on the status page': '状态页标题', 'Model name': '模型名称',
  'none yet': '暂无', 'Now': '当前', '24 h': '24 小时', 'ok': '正常', 'degraded': '降级', 'down': '故障', 'unknown': '未知', 'Interval (seconds, 30–86400)': '间隔（秒，30–86400）', 'Check prompt': '检查提示词', 'Timeout (ms)': '超时（毫秒）', 'Max tokens': '最大 Token',
  // dashboard: first steps
  'Get started': '快速开始', 'Add a provider': '添加供应商', 'from a preset: usually just an API key': '从预设添加：通常只需一个 API 密钥',
  'Add models': '添加模型', "import them from the provider's list in one go": '从供应商的模型列表一次性导入',
  'Create a virtual key': '创建虚拟密钥', 'for your app; then call /v1/chat/completions with it': '供你的应用使用；然后用它调用 /v1/chat/completions',
  // settings
  'Keep request logs for (days)': '请求日志保留天数', 'Daily rollups are kept forever.': '每日汇总永久保留。', 'Last maintenance': '上次维护',
  'Change password': '修改密码', 'Current password': '当前密码', 'New password': '新密码', 'Password changed': '密码已修改',
  'Changing the password ends every other session of this user.': '修改密码会结束该用户的其他所有会话。', 'Admin users': '管理员用户', 'Created': '创建时间',
  'Delete user {name}?': '删除用户 {name}？', 'Add a user': '添加用户', 'Add user': '添加用户', 'User added': '已添加用户', 'This admin UI': '关于此管理界面',
  'Gateway': '网关', "To run the UI on another host, set gateway_url in config.json and list that origin in the gateway's ADMIN_CORS_ORIGINS.":
    '若要在其他主机上运行此界面，请在 config.json 中设置 gateway_url，并将该来源加入网关的 ADMIN_CORS_ORIGINS。',
};
