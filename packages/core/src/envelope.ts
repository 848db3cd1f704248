// Avro envelopes registered in the Confluent-compatible registry (subject = <topic>-value),
// so any consumer in the organisation can read hookyard's topics.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { TimeoutMiddleware } from 'mappersmith/middleware/timeout';

/**
 * The registry client (mappersmith over node:http) sets no request timeout: one request
 * the registry never answers would hang its caller for good — a router batch, and with it
 * the partitions fetched beside it, and the service's close(). Bounded, it fails and the
 * batch is tried again.
 */
const REGISTRY_TIMEOUT_MS = 10_000;

export interface RawEvent {
  id: string;
  source: string;
  receivedAt: number; // epoch ms (Avro timestamp-millis)
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: Buffer;
  orderingKey: string;
  replayId: string | null;
}

export interface Delivery {
  eventId: string;
  source: string;
  destination: string;
  receivedAt: number; // epoch ms (Avro timestamp-millis)
  orderingKey: string;
  headers: Record<string, string>;
  body: Buffer;
  attempt: number;
  replayId: string | null;
  /** The config version that routed it (v7, or file@<hash>); absent on records from before versions. */
  configVersion?: string | null;
}

export interface IngressRejection {
  source: string;
  receivedAt: number;
  status: number;
  code: string;
  reason: string;
  method: string;
  path: string;
  remoteIp: string;
  headers: Record<string, string>;
  bodySize: number;
  bodySha256: string | null;
}

export interface DeadLetter {
  eventId: string;
  source: string;
  destination: string;
  receivedAt: number;
  orderingKey: string;
  headers: Record<string, string>;
  body: Buffer;
  stage: 'decode' | 'transform' | 'delivery';
  attempts: number;
  lastStatus: number | null;
  lastError: string;
  deadAt: number;
  replayId: string | null;
}

export interface DeliveryAttempt {
  eventId: string;
  destination: string;
  attempt: number;
  at: number;
  status: number | null;
  outcome: 'success' | 'retry' | 'dead';
  latencyMs: number;
  error: string | null;
  responseSnippet: string;
  nextAttemptAt: number | null;
  /** The request headers sent, secrets redacted; absent or null on records from before they were recorded. */
  requestHeaders?: Record<string, string> | null;
}

export interface RoutingDecision {
  eventId: string;
  source: string;
  receivedAt: number;
  routedAt: number;
  decisions: { destination: string; outcome: 'matched' | 'filtered' | 'transform_error'; error: string | null }[];
  replayId: string | null;
  configVersion?: string | null;
}

/** A destination's receipt for a delivery: applied or failed, in its own words (schemas/receipt.avsc). */
export interface Receipt {
  receiptId: string;
  eventId: string;
  destination: string;
  status: 'applied' | 'failed';
  detail: string | null;
  receivedAt: number;
}

export type Envelope = RawEvent | Delivery | IngressRejection | DeadLetter | DeliveryAttempt | RoutingDecision | Receipt;

export type SchemaName = 'raw-event' | 'delivery' | 'ingress-rejection' | 'dead-letter' | 'delivery-attempt' | 'routing-decision' | 'receipt';

const schemaDir = resolve(import.meta.dirname, '..', '..', '..', 'schemas');

export function schemaText(name: SchemaName): string {
  return readFileSync(resolve(schemaDir, `${name}.avsc`), 'utf8');
}

/** The part of an avsc Type the encoder uses: writes at pos, returns the end, or a negative shortfall. */
interface AvroType {
  encode(value: unknown, buf: Buffer, pos: number): number;
}

const WIRE_HEADER_BYTES = 5; // Confluent wire format: magic byte 0, then the schema id as int32

export class EnvelopeCodec {
  readonly registry: SchemaRegistry;
  private readonly ids = new Map<string, Promise<number>>();
  private readonly schemas = new Map<number, Promise<unknown>>();
  /** By topic, once its schema is registered and compiled: the encode needs no await. */
  private readonly ready = new Map<string, { id: number; type: AvroType }>();
  private scratch = Buffer.allocUnsafe(64 * 1024);

  constructor(registryUrl: string) {
    this.registry = new SchemaRegistry({ host: registryUrl, middlewares: [TimeoutMiddleware(REGISTRY_TIMEOUT_MS) as never] });
  }

  /** Registers (once per process) the schema for a topic's value subject and returns its id. */
  schemaId(topic: string, name: SchemaName): Promise<number> {
    const subject = `${topic}-value`;
    let id = this.ids.get(subject);
    if (!id) {
      // Registering does not fill the client's schema cache: load it once here, not per encode.
      id = this.registry.register({ type: SchemaType.AVRO, schema: schemaText(name) }, { subject }).then(async (r) => {
        this.ready.set(topic, { id: r.id, type: (await this.loaded(r.id)) as AvroType });
        return r.id;
      });
      id.catch(() => this.ids.delete(subject));
      this.ids.set(subject, id);
    }
    return id;
  }

  async encode(topic: string, name: 'raw-event', value: RawEvent): Promise<Buffer>;
  async encode(topic: string, name: 'delivery', value: Delivery): Promise<Buffer>;
  async encode(topic: string, name: 'ingress-rejection', value: IngressRejection): Promise<Buffer>;
  async encode(topic: string, name: 'dead-letter', value: DeadLetter): Promise<Buffer>;
  async encode(topic: string, name: 'delivery-attempt', value: DeliveryAttempt): Promise<Buffer>;
  async encode(topic: string, name: 'routing-decision', value: RoutingDecision): Promise<Buffer>;
  async encode(topic: string, name: 'receipt', value: Receipt): Promise<Buffer>;
  async encode(topic: string, name: SchemaName, value: Envelope): Promise<Buffer> {
    if (!this.ready.has(topic)) await this.schemaId(topic, name);
    const { id, type } = this.ready.get(topic)!;
    try {
      return this.encodeWith(id, type, value);
    } catch {
      // An invalid value: the registry client's encode names the offending fields.
      return this.registry.encode(id, value);
    }
  }

  /**
   * The registry client's encode lets avsc write into its 1 KiB scratch, and a 1 KiB
   * webhook does not fit: avsc then encodes it a second time into an exact buffer, and
   * the client copies that once more behind the wire header. Here: one pass into a
   * scratch that grows to the largest record seen, and one copy out.
   */
  private encodeWith(id: number, type: AvroType, value: unknown): Buffer {
    for (;;) {
      const end = type.encode(value, this.scratch, WIRE_HEADER_BYTES);
      if (end >= 0) {
        const out = Buffer.allocUnsafe(end);
        this.scratch.copy(out, 0, 0, end);
        out[0] = 0;
        out.writeInt32BE(id, 1);
        return out;
      }
      this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.scratch.length - end));
    }
  }

  async decode<T extends Envelope>(buf: Buffer): Promise<T> {
    if (buf.length >= 5 && buf[0] === 0) await this.loaded(buf.readInt32BE(1));
    return (await this.registry.decode(buf)) as T;
  }

  /**
   * Fetches and compiles a schema once per id. The registry client caches a schema only
   * after its first fetch returns, so thousands of records decoded at once (a backlog
   * after a restart) would each fetch and compile it: seconds of CPU and a registry
   * hammered exactly when the service is busiest.
   */
  private loaded(id: number): Promise<unknown> {
    let p = this.schemas.get(id);
    if (!p) {
      p = this.registry.getSchema(id);
      p.catch(() => this.schemas.delete(id)); // a missing id (poison) or an outage: ask again next time
      this.schemas.set(id, p);
    }
    return p;
  }
}

/**
 * Whether a decode failure is the record's fault (poison: park it and move on) rather than
 * the registry's (unreachable or failing: try again later, never dead-letter a good record).
 * The registry client reports a refused connection as a ResponseError too, with status 400.
 */
export function isPoisonRecord(err: unknown): boolean {
  const e = err as { name?: string; status?: number };
  if (e?.name === 'ResponseError') return e.status === 404; // the schema id does not exist
  return true; // bad magic byte, truncated or invalid Avro
}
