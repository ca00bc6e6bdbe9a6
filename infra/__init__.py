"""The CDK app: one stack, one construct per bounded context, one Lambda factory."""
