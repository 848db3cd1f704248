// The HTTP ceiling: fastify doing what ingress does minus verification and Kafka —
// raw-body parser, an id, 202.
import Fastify from 'fastify';
import { eventId } from '../packages/core/src/event-id.ts';

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/webhooks/:source', async (_req, reply) => reply.code(202).send({ id: eventId() }));
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(`listening ${address}`);
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)); });
