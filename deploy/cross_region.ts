/**
 * The edge stack (us-east-1) reads the API's host name from the fleet's
 * region through CDK's cross-region references, which CDK implements with
 * its own custom-resource Lambda functions. Their findings are accepted
 * here, where they are created.
 *
 * @module
 */
import type { Stack } from "aws-cdk-lib";
import { suppress } from "./nag.ts";

/** Accepts cdk-nag's findings on CDK's cross-region reference providers in `stack`. */
export function suppressCrossRegionProviders(stack: Stack): void {
  for (const child of stack.node.children) {
    if (!/^Custom::CrossRegionExport(Reader|Writer)/.test(child.node.id)) {
      continue;
    }
    suppress(child, [
      {
        id: "AwsSolutions-IAM4",
        reason: "CDK's cross-region reference provider runs with the basic " +
          "Lambda execution policy (its logs).",
      },
      {
        id: "AwsSolutions-L1",
        reason:
          "The provider's runtime is chosen by aws-cdk-lib and moves with it.",
      },
    ]);
  }
}
