// Kafka → the event history. One consumer group reads every topic the trace needs
// (read_committed: an aborted router transaction is never indexed); each fetched batch is
// written to the store in one transaction and only then is its offset committed. A crash
// between the two re-reads the batch, and the store's keys make the second write a no-op:
// no duplicate, no gap.
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import {
  Counter, Histogram, consumerOptions, isPoisonRecord, runSupervised,
  type Config, type DeadLetter, type Delivery, type DeliveryAttempt, type EnvelopeCodec, type IngressRejection, type Logger, type RawEvent, type Receipt, type Registry, type RoutingDecision, type SupervisedConsumer, type TopicNames,
} from '@hookyard/core';
import { attemptRow, deadLetterRow, decisionRows, deliveryRecordRow, eventMapping, eventRow, receiptRow, rejectionRow } from './records.ts';
import { emptyBatch, type IndexStore, type IssueChange, type IssueOccurrence, type WriteBatch } from './store/driver.ts';
import { deadLetterOccurrence, deliveryOccurrence, failedReceiptOccurrence, refusalOccurrence, transformOccurrences } from './issues.ts';

/** The consumer's own view: the store it writes (a narrow slice of IndexStore). */
export type IndexWriter = Pick<IndexStore, 'write' | 'recordIssues'>;

export interface IndexerDeps {
  config: Config;
  kafka: Kafka;
  admin: Admin;
  codec: EnvelopeCodec;
  store: IndexWriter;
  topics: TopicNames;
  group: string;
  log: Logger;
  metrics: Registry;
  /** Issues the batch opened or reopened (alerts and logs hear of them here). */
  onIssues?: (changes: IssueChange[]) => void;
}

export type TopicKind = 'raw' | 'rejection' | 'decision' | 'delivery' | 'attempt' | 'dead' | 'receipt';

export function indexedTopics(config: Config, topics: TopicNames): Map<string, TopicKind> {
  const m = new Map<string, TopicKind>([
    [topics.rawEvents, 'raw'], [topics.rejections, 'rejection'], [topics.decisions, 'decision'], [topics.attempts, 'attempt'], [topics.deadLetters, 'dead'],
  ]);
  for (const d of config.destinations) m.set(topics.delivery(d.name), 'delivery');
  if (config.destinations.some((d) => d.receipts)) m.set(topics.receipts, 'receipt');
  return m;
}

export class Indexer {
  private readonly consumer: Consumer;
  private supervised: SupervisedConsumer | undefined;
  private kinds: Map<string, TopicKind>;
  private mapping;
  private run: Parameters<Consumer['run']>[0] | undefined;
  private following = Promise.resolve();
  private readonly indexed: Counter;
  private readonly skipped: Counter;
  private readonly writeSeconds: Histogram;
  /** Per topic: the newest record time written (ms), for "indexed up to". */
  readonly newest = new Map<string, number>();
  private readonly deps: IndexerDeps;

  constructor(deps: IndexerDeps) {
    this.deps = deps;
    this.kinds = indexedTopics(deps.config, deps.topics);
    this.mapping = eventMapping(deps.config);
    this.consumer = deps.kafka.consumer({ ...consumerOptions(deps.config.kafka, deps.group), readUncommitted: false });
    this.indexed = new Counter({ name: 'hookyard_console_indexed_total', help: 'Kafka records written to the event history', labelNames: ['topic'], registers: [deps.metrics] });
    this.skipped = new Counter({ name: 'hookyard_console_undecodable_total', help: 'Records that could not be decoded (not indexed)', labelNames: ['topic'], registers: [deps.metrics] });
    this.writeSeconds = new Histogram({ name: 'hookyard_console_index_write_seconds', help: 'One batch written to the store', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [deps.metrics] });
  }

  topics(): string[] {
    return [...this.kinds.keys()];
  }

  async start(): Promise<void> {
    const { log } = this.deps;
    await this.consumer.connect();
    // A fetch of only transaction markers (the router's and deliverer's commits) never
    // reaches eachBatch; without this commit the index would read as behind forever.
    // Nothing but markers or aborted records lies in that range, so moving past it is safe.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize !== 0 || payload.firstOffset === null) return;
      this.consumer.commitOffsets([{ topic: payload.topic, partition: payload.partition, offset: (BigInt(payload.lastOffset) + 1n).toString() }]).catch(() => { /* the next batch commits */ });
    });
    await this.consumer.subscribe({ topics: this.topics(), fromBeginning: true });
    this.run = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Several partitions at once: each batch is one store transaction, and the store
      // serialises them; concurrency here overlaps decoding with writing.
      partitionsConsumedConcurrently: 4,
      eachBatch: (p) => this.batch(p),
    };
    this.supervised = await runSupervised(this.consumer, this.run, log, 'indexer');
  }

  /**
   * A config version changed the sources or destinations (deps.config was updated in
   * place): index by the new sources, and read a new destination's topic — kafkajs
   * subscribes only while stopped, so the consumer stops and runs again; uncommitted
   * batches are read again, and the store's keys make that a no-op.
   */
  follow(): Promise<void> {
    this.following = this.following.then(async () => {
      this.mapping = eventMapping(this.deps.config);
      const next = indexedTopics(this.deps.config, this.deps.topics);
      const added = [...next.keys()].filter((t) => !this.kinds.has(t));
      // A removed destination's topic stays read: its records are still part of the history.
      for (const [t, k] of this.kinds) if (!next.has(t)) next.set(t, k);
      this.kinds = next;
      if (added.length === 0 || !this.run) return;
      this.supervised?.stop();
      await this.consumer.stop();
      await this.consumer.subscribe({ topics: added, fromBeginning: true });
      this.supervised = await runSupervised(this.consumer, this.run, this.deps.log, 'indexer');
    }).catch((err: unknown) => this.deps.log.error({ err: (err as Error).message }, 'the index could not follow the new config version; restart the console'));
    return this.following;
  }

  private async batch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0 || !isRunning() || isStale()) return;
    const kind = this.kinds.get(batch.topic);
    if (kind === undefined) return;
    const rows: WriteBatch = emptyBatch();
    const occurrences: IssueOccurrence[] = [];
    let newest = 0;
    for (const m of batch.messages) {
      if (m.value === null) continue;
      const kafka = { topic: batch.topic, partition: batch.partition, offset: m.offset };
      let value: unknown;
      try {
        value = await this.deps.codec.decode(m.value);
      } catch (err) {
        if (!isPoisonRecord(err)) throw err; // the registry, not the record: try the batch again
        this.skipped.inc({ topic: batch.topic });
        continue;
      }
      newest = Math.max(newest, Number(m.timestamp));
      switch (kind) {
        case 'raw': rows.events.push(eventRow(this.mapping, value as RawEvent, kafka)); break;
        case 'rejection': rows.rejections.push(rejectionRow(value as IngressRejection, kafka)); break;
        case 'decision':
          rows.decisions.push(...decisionRows(value as RoutingDecision));
          occurrences.push(...transformOccurrences(value as RoutingDecision, kafka));
          break;
        case 'delivery': rows.deliveries.push(deliveryRecordRow(value as Delivery, Number(m.timestamp), kafka)); break;
        case 'attempt': rows.attempts.push(attemptRow(value as DeliveryAttempt, kafka)); break;
        case 'dead': rows.deadLetters.push(deadLetterRow(value as DeadLetter, kafka)); break;
        case 'receipt': rows.receipts.push(receiptRow(value as Receipt, kafka)); break;
      }
    }
    const t0 = performance.now();
    await this.deps.store.write(rows);
    this.writeSeconds.observe((performance.now() - t0) / 1000);
    // Issues after the rows (a crash between the two re-reads the batch: both are idempotent).
    for (const a of rows.attempts) { const o = deliveryOccurrence(a); if (o) occurrences.push(o); }
    for (const r of rows.rejections) occurrences.push(refusalOccurrence(r, this.deps.config.console.issues.refusalsPerMinute));
    for (const d of rows.deadLetters) { const o = deadLetterOccurrence(d, this.deps.config.console.issues.deadLettersPerHour); if (o) occurrences.push(o); }
    for (const r of rows.receipts) { const o = failedReceiptOccurrence(r); if (o) occurrences.push(o); }
    if (occurrences.length > 0) this.deps.onIssues?.(await this.deps.store.recordIssues(occurrences));
    const last = batch.messages[batch.messages.length - 1]!;
    // Committed only after the store has the rows (see the file's comment), and past the
    // batch's trailing transaction marker (lastOffset() counts it; every record is written).
    await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }]);
    resolveOffset(last.offset);
    this.indexed.inc({ topic: batch.topic }, batch.messages.length);
    if (newest > (this.newest.get(batch.topic) ?? 0)) this.newest.set(batch.topic, newest);
    await heartbeat();
  }

  async close(): Promise<void> {
    this.supervised?.stop();
    await this.consumer.disconnect();
  }
}
