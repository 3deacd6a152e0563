/**
 * The sharing policy: the @share classification of every field (the catalogue 共享目录), the
 * purpose registry and consumers' grants, the check of every operation before any department is
 * asked, masking, consent, and the `catalog` / `myGrants` resolvers.
 */
export { createPolicyEngine, DEFAULT_POLICY_ENGINE } from './engine';
export type {
  PolicyEngine,
  PolicyEngineOptions,
  CheckRequest,
  Decision,
  AllowedDecision,
  DeniedDecision,
  GrantedOperation,
  Subject,
  CatalogItem,
  GrantedFieldItem,
  ConsumerGrants,
} from './engine';
export type { SubjectKind } from './analysis';
export type { MaskingContext, ResponsePath } from './masks';
export { assertFullyClassified, SHARE_DIRECTIVE } from './classification';
export { PolicyDeniedError, PolicyConfigError, SchemaClassificationError } from './errors';
export type { MissingConsent, ConsentProblem } from './errors';
export { readPolicyFile } from './policy';
export type { PolicyInput, Purpose, Role, QueryLimitOverrides } from './policy';
export { DEMO_POLICY } from './default-policy';
export { CONSENT_HEADER, CONSENT_TOKEN_TYPE, DEFAULT_CONSENT_MAX_LIFETIME_SEC, MAX_CONSENT_TOKENS, consentTokensFromHeader } from './consent';
export type { ConsentMemory, ConsentVerifier, ConsentVerification, ConsentUse, RejectedConsent } from './consent';
export { createPolicyResolvers } from './resolvers';
export type { PolicyResolverOptions } from './resolvers';
