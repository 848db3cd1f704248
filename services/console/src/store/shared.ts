// Pure helpers every backend shares: how a body is kept, what full text indexes, how user
// input becomes a query argument (never SQL text).
import type { DeliveryState } from './driver.ts';

/** Which state wins when two records carry the same time: the later stage. */
export const STATE_RANK: Record<DeliveryState, number> = { pending: 0, retrying: 1, delivered: 2, dead: 2 };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A body as text when it is UTF-8 (searchable; JSON paths when it parses), else as bytes. */
export function bodyColumns(body: Buffer | null): { text: string | null; bin: Buffer | null; isJson: boolean } {
  if (body === null) return { text: null, bin: null, isJson: false };
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { text: null, bin: body, isJson: false };
  }
  if (text.includes('\u0000')) return { text: null, bin: body, isJson: false };
  let isJson = false;
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      JSON.parse(text);
      isJson = true;
    } catch { /* text, not JSON */ }
  }
  return { text, bin: null, isJson };
}

/** What full text covers: header values and the body's text. */
export function ftsText(headers: Record<string, string>, bodyText: string | null): string {
  return `${Object.values(headers).join(' ')}\n${bodyText ?? ''}`;
}

/**
 * User text as an FTS5 query: every word must occur, each quoted so that nothing the user
 * types is FTS syntax (AND, NEAR, *, column filters). null when no word remains.
 */
export function ftsQuery(text: string): string | null {
  const words = text.split(/\s+/).map((w) => w.trim()).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return null;
  return words.map((w) => `"${w.replaceAll('"', '""')}"`).join(' ');
}

/** A glob (`*` any run of characters) as a LIKE pattern with `\` escaping. */
export function globToLike(glob: string): string {
  return glob.replace(/[\\%_]/g, (c) => `\\${c}`).replaceAll('*', '%');
}

/** Path segments as a SQLite/JSON path argument: $."data"."object"."customer", [n] for digits. */
export function jsonPathOf(segments: readonly string[]): string {
  return `$${segments.map((s) => (/^\d+$/.test(s) ? `[${s}]` : `."${s.replaceAll('"', '')}"`)).join('')}`;
}

/** The smallest UUIDv7 text of a time: every event id received before `ms` sorts below it. */
export function idBoundary(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}`;
}
