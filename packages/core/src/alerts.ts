// Alerts ride hookyard's own pipeline: the console publishes each issue change as an event of
// the internal source `hookyard-alerts` (from an outbox, so a crash loses none), and every
// alert channel becomes a destination with a built-in payload template (a JSONata transform)
// and a filter for the rules that reach it. Delivery is then the deliverer's: durable retries,
// dedup by event id, per-key order (an issue's trigger before its resolve), dead letters.
import { connectionSchema, destinationSchema, sourceSchema, type Config } from './config/options.ts';

export const ALERTS_SOURCE = 'hookyard-alerts';
export const alertDestination = (channel: string) => `alert-${channel}`;

/** The operator event an issue change becomes (the body of a hookyard-alerts event). */
export interface AlertEvent {
  id: string;
  type: 'issue.opened' | 'issue.reopened' | 'issue.resolved';
  at: string;
  issue: { id: string; kind: string; target: string; title: string; state: string; count: number; events: number; firstSeen: string; lastSeen: string; sample: string; url: string | null };
}

type Channel = Config['alerts']['channels'][number];

/** A template sees the event as `body` (the transform's input): bound to $type and $issue. */
const bind = (expr: string) => `( $type := body.type; $issue := body.issue; ${expr} )`;

/** JSON text as a JSONata string literal (JSONata's double-quoted strings are JSON's). */
const lit = (s: string) => JSON.stringify(s);

const headline = `($type = "issue.resolved" ? "Resolved: " : $type = "issue.reopened" ? "Reopened: " : "New issue: ") & $issue.title`;
const details = `$issue.kind & " issue · " & $string($issue.count) & " failures, " & $string($issue.events) & " events · since " & $issue.firstSeen & ($issue.url ? " · " & $issue.url : "")`;

/** The payload each channel type documents, from an AlertEvent. */
export function alertTemplate(c: Channel): string | undefined {
  switch (c.type) {
    // Slack incoming webhooks: `text` (the notification), `blocks` (the message).
    case 'slack':
      return bind(`{ "body": { "text": ${headline}, "blocks": [ { "type": "section", "text": { "type": "mrkdwn", "text": "*" & ${headline} & "*\\n" & ${details} & ($issue.sample ? "\\n\`" & $substring($issue.sample, 0, 300) & "\`" : "") } } ] } }`);
    // Microsoft Teams incoming webhook: a MessageCard.
    case 'teams':
      return bind(`{ "body": { "@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": ${headline}, "themeColor": $type = "issue.resolved" ? "2EB67D" : "E01E5A", "title": ${headline}, "text": ${details} } }`);
    // PagerDuty Events API v2: trigger and resolve with one dedup_key per issue.
    case 'pagerduty':
      return bind(`{ "body": $type = "issue.resolved"
        ? { "routing_key": ${lit(c.routingKey)}, "event_action": "resolve", "dedup_key": "hookyard-" & $issue.id }
        : { "routing_key": ${lit(c.routingKey)}, "event_action": "trigger", "dedup_key": "hookyard-" & $issue.id,
            "payload": { "summary": $substring(${headline}, 0, 1024), "source": "hookyard", "severity": "error", "component": $issue.target, "group": $issue.kind, "class": $issue.kind,
              "custom_details": { "count": $issue.count, "events": $issue.events, "first_seen": $issue.firstSeen, "last_seen": $issue.lastSeen, "sample": $issue.sample } },
            "links": $issue.url ? [ { "href": $issue.url, "text": "hookyard console" } ] : [] } }`);
    // A generic webhook: the event itself, signed (Standard Webhooks) by the deliverer.
    case 'webhook':
      return undefined;
  }
}

/** The config with the alerts' source, destinations and connections added (none without channels). */
export function withAlerts(config: Config): Config {
  const { channels, rules } = config.alerts;
  if (channels.length === 0) return config;
  const effective = rules.length > 0 ? rules : [{ on: ['issue.opened', 'issue.reopened', 'issue.resolved'] as const, kinds: undefined, channels: channels.map((c) => c.name) }];
  const destinations = channels.map((c) => destinationSchema.parse({
    name: alertDestination(c.name), url: c.url, ordering: 'per-key',
    ...(c.type === 'webhook' ? { signingSecret: c.secret } : {}),
  }));
  const connections = channels.flatMap((c) => {
    const reaching = effective.filter((r) => r.channels.includes(c.name));
    if (reaching.length === 0) return [];
    const filter = { body: { $or: reaching.map((r) => ({ type: { $in: [...r.on] }, ...(r.kinds ? { issue: { kind: { $in: [...r.kinds] } } } : {}) })) } };
    const transform = alertTemplate(c);
    return [connectionSchema.parse({ source: ALERTS_SOURCE, destination: alertDestination(c.name), filter, ...(transform ? { transform } : {}) })];
  });
  return {
    ...config,
    sources: [...config.sources, sourceSchema.parse({ name: ALERTS_SOURCE, orderingKey: 'body.issue.id', eventType: 'body.type' })],
    destinations: [...config.destinations, ...destinations],
    connections: [...config.connections, ...connections],
  };
}
