#!/bin/sh
# Entrypoint of the stats image: for every variable NAME_SECRET_ARN, reads
# that Secrets Manager secret with the function's own credentials, writes
# its value to a file only this user can read, exports NAME_FILE naming it,
# then runs the program. Lambda has no secrets by reference, and a value in
# a function's environment is readable through GetFunctionConfiguration;
# an ARN is not a secret. Without such variables (Compose, ECS) it only
# runs the program.
#   ENTRYPOINT ["/usr/local/bin/secrets-to-files", "/usr/local/bin/eth-stats"]
set -eu

# Tests point these two elsewhere.
dir=/tmp/eth-secrets
if [ -n "${ETH_SECRET_FILES_DIR:-}" ]; then dir=$ETH_SECRET_FILES_DIR; fi
for name in $(env | sed -n 's/^\([A-Z0-9_]*\)_SECRET_ARN=.*/\1/p'); do
  eval "arn=\${${name}_SECRET_ARN}"
  region=$(echo "$arn" | cut -d: -f4)
  endpoint=https://secretsmanager.$region.amazonaws.com
  if [ -n "${ETH_SECRETS_ENDPOINT:-}" ]; then endpoint=$ETH_SECRETS_ENDPOINT; fi
  umask 077
  mkdir -p "$dir"
  # curl signs the request (SigV4) with the function's role credentials.
  if ! answer=$(curl -fsS --max-time 5 \
    --aws-sigv4 "aws:amz:$region:secretsmanager" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-security-token: ${AWS_SESSION_TOKEN:-}" \
    -H "X-Amz-Target: secretsmanager.GetSecretValue" \
    -H "Content-Type: application/x-amz-json-1.1" \
    --data "{\"SecretId\":\"$arn\"}" "$endpoint"); then
    echo "secrets-to-files: cannot read ${name}_SECRET_ARN ($arn)" >&2
    exit 1
  fi
  printf '%s' "$answer" | jq -je '.SecretString' >"$dir/$name" || {
    echo "secrets-to-files: ${name}_SECRET_ARN ($arn) has no SecretString" >&2
    exit 1
  }
  export "${name}_FILE=$dir/$name"
  unset "${name}_SECRET_ARN"
done
exec "$@"
