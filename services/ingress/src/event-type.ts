// allowedEventTypes: glob patterns (`*` any run of characters) over the eventType path.
export function eventTypeMatcher(patterns: readonly string[]): (type: string) => boolean {
  const res = patterns.map((p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`));
  return (type) => res.some((r) => r.test(type));
}
