/**
 * `datarun/testing`: the connector conformance kit. `describeConnectorConformance` defines the
 * conformance tests of one connector (under jest, an optional peer dependency); the upstream
 * helpers stand in for its department system: a scripted HTTP service, a replay of recorded
 * HTTP exchanges, a TCP fault proxy in front of any host:port (SQL, SOAP).
 */
export { describeConnectorConformance } from './conformance';
export type { ConformanceSubject, ConformanceTiming, PrimaryLoader, Resolvable } from './conformance';
export { connectorModuleProblems, sdlProblems, settingsProblems } from './module-checks';
export { FAULT_MODES, DEFAULT_SLOW_MS } from './upstream';
export type { ConformanceUpstream, FaultMode, UpstreamFault } from './upstream';
export { startScriptedHttpUpstream } from './scripted-http';
export type { ScriptedCall, ScriptedFault, ScriptedHandler, ScriptedHttpUpstream, ScriptedHttpUpstreamOptions, ScriptedReply, ScriptedRequest } from './scripted-http';
export { startRecordedHttpUpstream, readHttpRecording } from './recorded-http';
export type { HttpRecording, RecordedExchange, RecordedHttpUpstream, RecordedHttpUpstreamOptions } from './recorded-http';
export { startTcpFaultProxy } from './tcp-proxy';
export type { TcpFault, TcpFaultProxy, TcpFaultProxyOptions } from './tcp-proxy';
export { syntheticCitizenIds } from './synthetic';
