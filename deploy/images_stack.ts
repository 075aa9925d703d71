/**
 * The ECR repositories, in their own stack: images must be pushed before
 * the fleet that runs them is created (`deno task deploy` deploys this
 * stack first).
 *
 * @module
 */
import { RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as ecr from "aws-cdk-lib/aws-ecr";
import type { Construct } from "constructs";

/** The repository of each program, named as its binary. */
export const REPOSITORY_NAMES = {
  client: "eth-client",
  server: "eth-server",
  stats: "eth-stats",
} as const;

/** One ECR repository per program. */
export class ImagesStack extends Stack {
  /** Builds the repositories. */
  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    for (const [program, name] of Object.entries(REPOSITORY_NAMES)) {
      new ecr.Repository(this, program, {
        repositoryName: name,
        imageScanOnPush: true,
        // A tag names one image for good, so a template's tag (or digest)
        // is exactly what runs; `latest` cannot be moved under a fleet.
        imageTagMutability: ecr.TagMutability.IMMUTABLE,
        encryption: ecr.RepositoryEncryption.AES_256,
        lifecycleRules: [{ maxImageCount: 30 }],
        // Images outlive a teardown of the fleet; delete them by hand.
        removalPolicy: RemovalPolicy.RETAIN,
      });
    }
  }
}
