#!/bin/sh
# Stand-in for the AWS Lambda Web Adapter extension: never run outside Lambda.
exit 0
