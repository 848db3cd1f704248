// The web console: server-rendered pages (eta templates, htmx for the live parts, uPlot for
// charts) on the console's own fastify, so it needs no build step and no second process.
// Sessions are encrypted cookies (@fastify/secure-session: no session store to run); every
// POST carries a CSRF token (@fastify/csrf-protection); logins are rate-limited per address
// and user name (@fastify/rate-limit). See docs/console.md.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySecureSession from '@fastify/secure-session';
import fastifyStatic from '@fastify/static';
import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '@hookyard/core';
import type { User, Users } from './users.ts';

declare module '@fastify/secure-session' {
  interface SessionData { user: string; _csrf: string }
}
declare module 'fastify' {
  interface FastifyRequest { user?: User }
  interface FastifyReply { locals?: Record<string, unknown> }
  /** An operator action's name in the audit log (pages.ts), `:kind` filled from the route. */
  interface FastifyContextConfig { action?: string }
}

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

/**
 * Sessions for the whole app (the API accepts a logged-in browser for reads too): registered
 * as a plugin that is not encapsulated, so its hooks run for every route, before the API's.
 */
export const sessions = Object.assign(async function sessions(app: FastifyInstance, { config, users }: { config: Config; users: Users }): Promise<void> {
  // No key in the config: one per process start (everyone logs in again after a restart).
  const key = config.console.sessionKey === '' ? randomBytes(32) : Buffer.from(config.console.sessionKey, 'hex');
  await app.register(fastifySecureSession, {
    key, cookieName: 'hookyard_session', expiry: 8 * 3600,
    // lax, not strict: a link to an event from an alert or a chat opens logged in; CSRF
    // tokens protect the actions either way.
    cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure: config.console.secureCookies },
  });
  app.addHook('onRequest', async (req) => {
    const u = users.current(req.session.get('user'));
    if (u) req.user = u;
  });
}, { [Symbol.for('skip-override')]: true });

export interface WebDeps { users: Users; config: Config }

/** The pages' plumbing: templates, static files, forms, CSRF, login and the auth guard. */
export async function webPlumbing(app: FastifyInstance, { users }: WebDeps): Promise<void> {
  await app.register(fastifyFormbody, { bodyLimit: 64 * 1024 });
  await app.register(fastifyCsrf, { sessionPlugin: '@fastify/secure-session' });
  await app.register(fastifyRateLimit, { global: false });
  await app.register(fastifyView, {
    engine: { eta: new Eta() }, root: join(import.meta.dirname, 'views'), layout: 'layout.eta',
    production: process.env.NODE_ENV !== 'development',
  });
  await app.register(fastifyStatic, { root: join(packageDir('htmx.org'), 'dist'), prefix: '/vendor/htmx/', allowedPath: (p) => p === '/htmx.min.js', maxAge: '1d' });
  await app.register(fastifyStatic, { root: join(packageDir('uplot'), 'dist'), prefix: '/vendor/uplot/', decorateReply: false, allowedPath: (p) => p === '/uPlot.iife.min.js' || p === '/uPlot.min.css', maxAge: '1d' });
  await app.register(fastifyStatic, { root: join(import.meta.dirname, 'static'), prefix: '/static/', decorateReply: false, maxAge: '1h' });

  // No inline script runs (charts read JSON blocks; behaviour is in /static/console.js), no
  // framing (clickjacking), nothing sent to other origins.
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('content-security-policy', "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'");
    reply.header('x-frame-options', 'DENY');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    // Pages show events: not kept by the browser's cache (static files keep their max-age).
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) reply.header('cache-control', 'no-store');
    return payload;
  });
  const open = (url: string) => url === '/login' || url.startsWith('/login?') || url.startsWith('/vendor/') || url.startsWith('/static/');
  app.addHook('onRequest', async (req, reply) => {
    if (open(req.url) || req.user) return;
    if (req.method === 'GET') {
      if (req.headers['hx-request']) return reply.code(401).header('hx-redirect', '/login').send();
      return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
    }
    return reply.code(401).type('text/plain').send('log in first');
  });
  // Every POST, the login included, carries the session's CSRF token (form field or header).
  app.addHook('preHandler', (req, reply, done) => {
    if (req.method === 'GET' || req.method === 'HEAD') return done();
    app.csrfProtection(req, reply, done);
  });
  app.addHook('preHandler', async (req, reply) => {
    reply.locals = { user: req.user ?? null, csrf: reply.generateCsrf(), path: req.url.split('?')[0] };
  });
  app.setErrorHandler(async (err: Error & { statusCode?: number; status?: number; code?: string }, req, reply) => {
    // A bad parameter (api/query.ts's BadQuery) carries `status`.
    const status = err.statusCode ?? (typeof err.status === 'number' && err.status < 500 ? err.status : 500);
    if (status >= 500) app.log.error({ err: err.message, url: req.url }, 'console page failed');
    const message = err.code?.startsWith('FST_CSRF') ? 'This form is out of date or was not sent by this console (CSRF check). Reload the page and try again.'
      : status === 429 ? 'Too many login attempts: wait a minute and try again.'
      : status < 500 ? err.message : 'Something failed on the server; the console log says what.';
    reply.locals = { user: req.user ?? null, csrf: '', path: '' };
    return reply.code(status).viewAsync('error.eta', { title: `Error ${status}`, status, message });
  });

  app.get('/login', async (req, reply) => reply.viewAsync('login.eta', { title: 'Log in', next: safeNext((req.query as { next?: string }).next), error: null, name: '', noUsers: users.size === 0 }));
  app.post('/login', {
    config: {
      rateLimit: {
        max: 5, timeWindow: '1 minute',
        // preHandler: the user name is in the parsed body.
        hook: 'preHandler',
        keyGenerator: (req: FastifyRequest) => `${req.ip}|${String((req.body as { name?: unknown } | undefined)?.name ?? '').toLowerCase()}`,
      },
    },
  }, async (req, reply) => {
    const body = (req.body ?? {}) as { name?: string; password?: string; next?: string };
    const user = await users.login(String(body.name ?? ''), String(body.password ?? ''));
    if (!user) {
      req.log.warn({ user: String(body.name ?? '').slice(0, 64), ip: req.ip }, 'console login refused');
      return reply.code(401).viewAsync('login.eta', { title: 'Log in', next: safeNext(body.next), error: 'Wrong user name or password.', name: String(body.name ?? ''), noUsers: users.size === 0 });
    }
    // A new session (and CSRF secret) at login: nothing from before it carries over.
    req.session.regenerate();
    req.session.set('user', user.name);
    return reply.redirect(safeNext(body.next), 303);
  });
  app.post('/logout', async (req, reply) => {
    req.session.delete();
    return reply.redirect('/login', 303);
  });
}

/** Only a path on this console: never an absolute URL (an open redirect). */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(next) ? next : '/';
}

/** A preHandler for actions: operators only. */
export function operatorOnly(req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
  if (req.user?.role === 'operator') return done();
  reply.code(403);
  done(Object.assign(new Error(`Your role (${req.user?.role ?? 'none'}) may look but not act: ask an operator.`), { statusCode: 403 }));
}
