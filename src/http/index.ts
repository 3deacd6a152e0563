/** The hub's HTTP front: routes, limits, request ids, graceful shutdown. */
export { startHubServer } from './server';
export type { HubServer, HubServerOptions } from './server';
export type { ExplorerExample } from './front';
