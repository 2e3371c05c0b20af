/**
 * createRequestListener(deps): the one request listener of the service,
 * without listening (main.ts, or a test, decides where). Two lanes behind
 * it: the hot routes (decisions, tokens), matched by exact method and path,
 * go to a lean dispatcher on node's own request; everything else goes to the
 * express application. Both run the same baseline, caller check,
 * validation, handler and error mapper (see README.md in this folder).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import proxyaddr from 'proxy-addr';
import type { RequestMeta } from '../audit/log.ts';
import { authenticate } from '../auth/sessions/authenticate.ts';
import { authenticateBasicHeader, isBasic } from '../auth/clients/clientCredentials.ts';
import { assertFreshMfa } from '../auth/sessions/stepUp.ts';
import type { AuthContext } from '../auth/context.ts';
import { ForbiddenError, UnauthenticatedError } from '../errors.ts';
import type { AppDeps } from './deps.ts';
import { baseline, formBody, jsonBody, viaTlsProxy } from './middleware.ts';
import { buildOpenApi } from './openapi.ts';
import { errorResponder } from './errorMapper.ts';
import { problem, sendProblem } from './problem.ts';
import type { AnyRoute, RequestHeaders, RouteAuth } from './route.ts';
import { mountRoutes, routeHandler } from './runner.ts';
import { auditIntegrityRoutes } from './routes/auditIntegrity.ts';
import { alertRoutes } from './routes/alerts.ts';
// Reach: what a principal or a dataset's readers can read now.
import { accessRoutes } from './routes/access.ts';
import { auditRoutes } from './routes/audit.ts';
import { authRoutes } from './routes/auth.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { changeRoutes } from './routes/changes.ts';
import { sponsorRoutes } from './routes/sponsor.ts';
import { decisionRoutes } from './routes/decisions.ts';
import { consolePages } from './routes/console.ts';
import { docsPages } from './routes/docs.ts';
import { grantRoutes } from './routes/grants.ts';
import { healthRoutes } from './routes/health.ts';
import { incidentRoutes } from './routes/incidents.ts';
import { keyRoutes } from './routes/keys.ts';
import { oauthRoutes } from './routes/oauth.ts';
import { policyRoutes } from './routes/policy.ts';
import { roleRoutes } from './routes/roles.ts';
import { resourceServerRoutes } from './routes/resourceServers.ts';
import { webauthnRoutes } from './routes/webauthn.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { laneMeter } from './instrument.ts';
import { routeLimit } from './rateLimit.ts';
import { withLocals, type NodeRequest, type NodeResponse } from './transport.ts';

function bearer(h: string | undefined): string | undefined {
  const m = h ? /^Bearer ([\x21-\x7e]{1,512})$/i.exec(h) : null;
  return m?.[1];
}

/** Every route of the service, in one table (also the source of /openapi.json). */
export function allRoutes(deps: AppDeps): AnyRoute[] {
  // The decision API is the hot path: express matches routes in order, so it comes first.
  return [...decisionRoutes(deps), ...oauthRoutes(deps), ...healthRoutes(deps), ...authRoutes(deps), ...webauthnRoutes(deps), ...catalogRoutes(deps), ...roleRoutes(deps), ...changeRoutes(deps), ...resourceServerRoutes(deps), ...sponsorRoutes(deps), ...grantRoutes(deps), ...auditIntegrityRoutes(deps), ...keyRoutes(deps), ...auditRoutes(deps), ...policyRoutes(deps), ...metricsRoutes(deps), ...incidentRoutes(deps),
    // Alerts: the reviewer's lifecycle operations and the console's stream.
    ...alertRoutes(deps),
    // Reach: what a principal can read now, and who can read a dataset now.
    ...accessRoutes(deps),
  ];
}

/** Options of {@link createRequestListener}. */
export interface CreateAppOptions {
  /**
   * Mounts routes ahead of Custos's own middleware (the HTTP benchmark's
   * bare hello-world route, served by the very same app).
   */
  before?: (app: Express) => void;
}

/** Builds the service's request listener: the lean lane for hot routes, express for the rest. */
export function createRequestListener(deps: AppDeps, options: CreateAppOptions = {}): RequestListener {
  const app = express();
  // Paths are the contract: `/V1/PRINCIPALS` and `/v1/principals/` are not
  // `/v1/principals` (set before anything creates the router, which reads them).
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.disable('x-powered-by');
  // Responses are `no-store`; a body hash per response would be pure cost.
  app.set('etag', false);
  app.set('trust proxy', deps.settings.trustProxy ?? false);
  // Express 5's default "simple" parser: repeated keys become arrays, which
  // the strict query schemas then refuse; no nested objects from `a[b]=c`.
  app.set('query parser', 'simple');

  options.before?.(app);

  const authorize = async (headers: RequestHeaders, need: RouteAuth, meta: RequestMeta, action: string): Promise<AuthContext | undefined> => {
    if (need.kind === 'public') return undefined;
    const header = headers.authorization;
    const basic = need.kind === 'permission' && need.clients && isBasic(header);
    const token = basic ? undefined : bearer(header);
    if (!token && !basic) throw new UnauthenticatedError();
    const auth = basic ? await authenticateBasicHeader(deps.auth, header!, meta) : await authenticate(deps.auth, token!);
    if (need.kind === 'enrollment') return auth;
    if (auth.scope !== 'full') throw new ForbiddenError('Finish enrolling a second factor first.');
    if (need.kind === 'permission' && !auth.permissions.has(need.permission)) {
      throw new ForbiddenError('You are not allowed to do this.', { principalId: auth.principalId, missing: need.permission });
    }
    if (need.stepUp) await assertFreshMfa(deps.auth, auth, meta, action);
    return auth;
  };

  const routes = allRoutes(deps);
  const trust = app.get('trust proxy fn') as (addr: string, i: number) => boolean;
  // The client's address under the `trust proxy` setting, as express's req.ip (for plain node requests too).
  const ipOf = (req: IncomingMessage) => proxyaddr(req, trust);
  const routeOptions = {
    afterWrite: deps.invalidate,
    ipOf,
    parsers: { json: jsonBody(deps.settings.bodyLimit), form: formBody(deps.settings.bodyLimit) },
    // Deciding routes (a `lane`) report their time and, for tokens, their outcome (src/metrics).
    meter: (route: AnyRoute) => laneMeter(route, deps.metrics.hooks, deps.isUnavailable),
    // Rate limits on the deciding routes (src/ratelimit, docs/rate-limits.md).
    limit: (route: AnyRoute) => routeLimit(route, deps.rateLimits),
  };
  // The one error mapper: problem documents, or RFC 6749 §5.2 bodies on the routes that declare `errors: 'oauth'`.
  const respond = errorResponder(deps.log, deps.isUnavailable);
  const base = baseline({
    log: deps.log,
    timeoutMs: deps.settings.requestTimeoutMs,
    onTimeout: (res, err) => respond(err, res),
    admit: deps.settings.proxyOnly ? viaTlsProxy(trust) : undefined,
  });
  app.use(base);

  // The hot paths (decisions, tokens) are served straight from node's request,
  // by exact method and path, without express's router or request/response
  // prototypes: the same baseline (request id, deadline, security headers,
  // access log), body reader, caller check, validation, handler and error
  // mapper as every other route, minus the framework's per-request cost. A
  // query string, or anything else, takes the ordinary express route.
  const hot = new Map(routes.filter((r) => r.hot).map((r) => [`${r.method.toUpperCase()} ${r.path}`, routeHandler(r, authorize, routeOptions)]));
  // Routes hang directly off the app (no nested router to traverse); JSON bodies are parsed only where a route takes one.
  mountRoutes(app, routes, authorize, routeOptions);

  const openapi = buildOpenApi(routes, { version: deps.settings.version, serverUrl: deps.settings.publicUrl });
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  // Swagger UI over /openapi.json, its assets served from node_modules (no CDN).
  for (const { path, handler } of docsPages()) app.get(path, handler);
  // The web console (src/console), built into dist/console; its own strict CSP.
  for (const { path, handler } of consolePages()) app.get(path, handler);

  app.use((req, res) => {
    sendProblem(res, problem(404, 'not_found', `No route for ${req.method} ${req.path}.`, res.locals.requestId as string));
  });
  // Express's error middleware is told apart by its four parameters.
  app.use((err: unknown, req: NodeRequest, res: NodeResponse, _next: unknown) => respond(err, res, req));

  return (req: IncomingMessage, res: ServerResponse) => {
    const h = hot.get(`${req.method} ${req.url}`);
    if (!h) return app(req, res);
    // The runner and the baseline need node's request and response only, plus the per-request locals.
    withLocals(res);
    base(req, res, () => h(req, res, (err?: unknown) => respond(err ?? new Error('hot route ended without an answer'), res, req)));
  };
}
