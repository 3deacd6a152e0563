/**
 * The contract of the social security API's replies, as lean zod schemas: they run on every
 * batch, so they check shapes and enums, not every business rule.
 */
import { z } from 'zod';

const contributionSchema = z.object({
  // A format check (regex or length) would double the cost of the whole parse; `YYYY-MM` is the contract.
  period: z.string(),
  insuranceType: z.enum(['PENSION', 'MEDICAL', 'UNEMPLOYMENT', 'WORK_INJURY', 'MATERNITY']),
  base: z.number(),
  amount: z.number(),
  employerCreditCode: z.string().nullable(),
});

const insuredSchema = z.object({
  idNumber: z.string(),
  name: z.string(),
  scheme: z.enum(['EMPLOYEE', 'RESIDENT']),
  status: z.enum(['ACTIVE', 'SUSPENDED', 'RETIRED']),
  employerCreditCode: z.string().nullable(),
  insuredSince: z.string(),
  contributions: z.array(contributionSchema),
});

const employerAccountSchema = z.object({
  creditCode: z.string(),
  accountNumber: z.string(),
  status: z.enum(['ACTIVE', 'SUSPENDED', 'CLOSED']),
  openedAt: z.string(),
  employeeCount: z.number().int().nonnegative(),
  arrears: z.number(),
});

/** Reply of `POST /api/v1/insured/batch`. */
export const insuredBatchReplySchema = z.object({ items: z.array(insuredSchema), notFound: z.array(z.string()) });

/** Reply of `POST /api/v1/employers/batch`. */
export const employerBatchReplySchema = z.object({ items: z.array(employerAccountSchema), notFound: z.array(z.string()) });

/** Reply of `GET /api/v1/health`. */
export const healthReplySchema = z.object({ status: z.literal('ok') });

/** One monthly contribution 缴费记录 of one insurance type. */
export type ContributionRecord = z.infer<typeof contributionSchema>;

/** An insured person 参保人 as the department holds it, contributions newest first. */
export type InsuredRecord = z.infer<typeof insuredSchema>;

/** An employer's account 参保单位 with the social security agency. */
export type EmployerAccountRecord = z.infer<typeof employerAccountSchema>;
