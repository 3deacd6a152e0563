/**
 * Pushed cases (审管联动, 双告知、双反馈): a case per pushed event and receiving department, claimed
 * and reported back on within deadlines counted in working days of the Chinese calendar;
 * overdue steps listed for electronic supervision. Stores in memory, in a local file, or in
 * Redis (through src/state). docs/cases.md.
 */
export { createWorkingCalendar, loadWorkingCalendar, defaultWorkingCalendar, DEFAULT_TIME_ZONE, MAX_WORKING_DAYS } from './calendar';
export type { WorkingCalendar, WorkingCalendarOptions, CalendarData, CalendarYearData } from './calendar';
export { CASE_STATES, CASE_OUTCOMES, MAX_NOTE_LENGTH, ACTOR_ID_PATTERN, EVENT_ID_PATTERN, caseIdOf } from './case';
export type { Case, CaseState, CaseOutcome, CaseStep, CaseReport, CaseChange, CaseTransition, PushedEvent, ReportInput } from './case';
export { parseCaseDeadlines } from './deadlines';
export type { CaseDeadlines, CaseDeadlineConfig } from './deadlines';
export { createCaseService, ALL_DEPARTMENTS, MAX_DEPARTMENTS_PER_EVENT } from './service';
export type { CaseService, CaseServiceOptions, OverdueCase, OverdueStep, OpenResult } from './service';
export { createDocumentCaseStore, createMemoryCaseStore } from './store';
export type { CaseStore } from './store';
export { openFileCaseStore } from './file-store';
export { CasesError, CasesErrorCode, CalendarInvalidError, CalendarYearNotConfiguredError, CasesConfigError } from './errors';
