/**
 * cdk-nag: the AwsSolutions checks the fleet must pass, and the way a
 * finding is accepted, always next to the construct it applies to and with
 * the reason written out (cdk-nag 3 records these as CDK acknowledgements).
 *
 * @module
 */
import { Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";

/** One finding that is accepted, and why. */
export interface Suppression {
  /** The rule, e.g. `AwsSolutions-IAM4`. */
  id: string;
  /** Why the finding is accepted here. */
  reason: string;
  /** For rules with a finding per item (IAM4, IAM5), the items accepted. */
  appliesTo?: string[];
}

/** Accepts `suppressions` for `construct` and everything under it. */
export function suppress(
  construct: IConstruct,
  suppressions: Suppression[],
): void {
  for (const { id, reason, appliesTo } of suppressions) {
    for (const ruleId of appliesTo?.map((a) => `${id}[${a}]`) ?? [id]) {
      Validations.of(construct).acknowledge({ id: ruleId, reason });
    }
  }
}

/** A cdk-nag finding that is not accepted. */
export interface Finding {
  rule: string;
  level: "error" | "warning";
  paths: string[];
  description: string;
}

/** Runs the AwsSolutions checks over `scope`; accepted findings are left out. */
export function nagFindings(scope: IConstruct): Finding[] {
  const report = new AwsSolutionsChecks(undefined, { verbose: false })
    .validateScope(scope);
  return report.violations.map((v) => ({
    rule: v.ruleName,
    level: v.severity === "error" ? "error" : "warning",
    paths: v.violatingResources.map((r) => r.constructPath ?? ""),
    description: v.description,
  }));
}

/** Every acceptance under `scope`: where, which rule, why. */
export function suppressions(
  scope: IConstruct,
): { path: string; id: string; reason: string }[] {
  const out: { path: string; id: string; reason: string }[] = [];
  for (const node of scope.node.findAll()) {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [key, reason] of Object.entries(entry.data ?? {})) {
        out.push({
          path: node.node.path,
          id: key.replace(/^annotation::/i, ""),
          reason: String(reason),
        });
      }
    }
  }
  return out;
}
