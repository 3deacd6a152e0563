/**
 * The one deadline of the test suite's waits: starting a server, a hub, a cluster; a hook; a
 * test. It is generous on purpose: it only catches a hang, never measures speed, so the suite
 * holds on a busy two-core machine (CI runs it beside six busy loops). DATARUN_TEST_HANG_MS
 * changes it.
 */
export const HANG_DEADLINE_MS = Number(process.env.DATARUN_TEST_HANG_MS) > 0 ? Number(process.env.DATARUN_TEST_HANG_MS) : 180_000;
