/**
 * cfn-lint (AWS's template linter): the way one of its warnings is
 * accepted, on the one resource it applies to and with the reason in that
 * resource's template metadata, where cfn-lint and a reader both see it.
 * Nothing is ignored for a whole template.
 *
 * @module
 */
import type { CfnResource } from "aws-cdk-lib";

/** One cfn-lint rule accepted on a resource, and why. */
export interface LintAcceptance {
  /** The rule, e.g. `W3005`. */
  rule: string;
  /** Why the finding is right to keep here. */
  reason: string;
}

/** The metadata key cfn-lint reads its per-resource configuration from. */
export const CFN_LINT_METADATA = "cfn-lint";

/**
 * Accepts `acceptances` on `resource`: writes `Metadata: cfn-lint: config:
 * ignore_checks` and, beside it, `reasons` (rule to reason).
 */
export function acceptLint(
  resource: CfnResource,
  acceptances: LintAcceptance[],
): void {
  const existing = resource.getMetadata(CFN_LINT_METADATA) as
    | { config: { ignore_checks: string[] }; reasons: Record<string, string> }
    | undefined;
  const ignore = existing?.config.ignore_checks ?? [];
  const reasons = existing?.reasons ?? {};
  for (const { rule, reason } of acceptances) {
    if (!ignore.includes(rule)) ignore.push(rule);
    reasons[rule] = reason;
  }
  resource.addMetadata(CFN_LINT_METADATA, {
    config: { ignore_checks: ignore },
    reasons,
  });
}

/**
 * The reason CDK's functions carry a redundant `DependsOn` (W3005): CDK
 * makes a function depend on its role and on the role's policy, so it is
 * never invoked before it may act; the role half repeats the `GetAtt`, is
 * harmless, and is added by CDK where it cannot be removed.
 */
export const CDK_FUNCTION_DEPENDS_ON: LintAcceptance = {
  rule: "W3005",
  reason: "CDK makes a function depend on its role and the role's policy so " +
    "it never runs without its permissions; the role half repeats the " +
    "GetAtt, is harmless, and CDK adds it where it cannot be removed.",
};
