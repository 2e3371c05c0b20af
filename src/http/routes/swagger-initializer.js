/*
 * Starts Swagger UI on /docs against the service's own /openapi.json. A file
 * of its own, served by Custos, because the page's Content-Security-Policy
 * allows no inline script.
 */
/* global SwaggerUIBundle */
globalThis.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  // A reference, not a client: no "Try it out" (no session token typed into a page),
  // and no calls to the public validator (the page may reach only its own origin).
  supportedSubmitMethods: [],
  validatorUrl: null,
});
