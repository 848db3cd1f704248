// Streams the records of a topic between two times, partition by partition, one batch in
// memory at a time: offsets come from Kafka's time index (ListOffsets by timestamp), the
// end is fixed when the scan starts (records arriving later are not read), and a
// throwaway consumer group that never commits does the fetching.
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';

/** Offsets [start, end) of one partition. */
export interface PartitionRange {
  partition: number;
  start: number;
  end: number;
}

/**
 * The offsets holding records stamped in [fromMs - slackMs, toMs + slackMs). Callers
 * filter on the envelope's own time; the slack covers records stamped a little out of
 * order. A topic that does not exist yet has nothing to scan.
 */
export async function planScan(admin: Admin, topic: string, fromMs: number, toMs: number | null, slackMs = 0): Promise<PartitionRange[]> {
  if (!(await admin.listTopics()).includes(topic)) return [];
  const bounds = await admin.fetchTopicOffsets(topic);
  const high = new Map(bounds.map((b) => [b.partition, Number(b.high)]));
  const low = new Map(bounds.map((b) => [b.partition, Number(b.low)]));
  const at = async (ms: number) => new Map((await admin.fetchTopicOffsetsByTimestamp(topic, Math.max(0, ms))).map((o) => [o.partition, Number(o.offset)]));
  const starts = fromMs - slackMs <= 0 ? low : await at(fromMs - slackMs);
  const ends = toMs === null ? high : await at(toMs + slackMs);
  return [...high.keys()].sort((a, b) => a - b).map((partition) => {
    const start = Math.max(starts.get(partition) ?? 0, low.get(partition) ?? 0);
    const end = Math.min(ends.get(partition) ?? 0, high.get(partition) ?? 0);
    return { partition, start, end: Math.max(start, end) };
  });
}

export function rangeSize(ranges: PartitionRange[]): number {
  return ranges.reduce((n, r) => n + (r.end - r.start), 0);
}

export async function scan(
  kafka: Kafka,
  topic: string,
  ranges: PartitionRange[],
  handle: (partition: number, messages: KafkaMessage[]) => Promise<void>,
  onProgress: (records: number) => void = () => {},
): Promise<void> {
  const todo = new Map(ranges.filter((r) => r.end > r.start).map((r) => [r.partition, r]));
  if (todo.size === 0) return;
  const consumer = kafka.consumer({ groupId: `hookyard-cli-${randomUUID()}`, allowAutoTopicCreation: false, maxBytesPerPartition: 1024 * 1024, maxBytes: 4 * 1024 * 1024, maxWaitTimeInMs: 500 });
  let settle!: (err?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => { settle = (err) => (err ? reject(err) : resolve()); });
  const finish = (partition: number): void => {
    if (!todo.delete(partition)) return;
    consumer.pause([{ topic, partitions: [partition] }]);
    if (todo.size === 0) settle();
  };
  // Fires for batches of only control records too (transactional topics), which
  // eachBatch never sees: the end of a partition may be a transaction marker.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const r = todo.get(payload.partition);
    // Not an empty fetch: it reports the high watermark as its last offset even when the
    // records before it are not readable yet (a transaction whose marker is not written).
    if (payload.topic === topic && r && payload.firstOffset !== null && Number(payload.lastOffset) >= r.end - 1) finish(payload.partition);
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => settle(payload.error));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const r = todo.get(batch.partition);
        if (!r) return;
        const inRange = batch.messages.filter((m) => {
          const o = Number(m.offset);
          return o >= r.start && o < r.end;
        });
        if (inRange.length === 0) return;
        try {
          await handle(batch.partition, inRange);
        } catch (err) {
          settle(err); // the command fails; kafkajs must not retry the batch behind our back
          todo.clear();
          return;
        }
        onProgress(inRange.length);
      },
    });
    for (const r of ranges) {
      if (todo.has(r.partition)) consumer.seek({ topic, partition: r.partition, offset: String(r.start) });
      else consumer.pause([{ topic, partitions: [r.partition] }]);
    }
    await done;
  } finally {
    await consumer.disconnect();
  }
}
