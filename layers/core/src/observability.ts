import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { EnvSchema } from './env.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE } from './metricNames.ts';

/**
 * One Logger and one Metrics per container, shared by every handler: structured JSON logs and
 * CloudWatch EMF metrics. Namespace, service and the `stage` default dimension are what the
 * dashboard and alarms in infra/ read (names in metricNames.ts); constructor options win over
 * POWERTOOLS_* variables, and a test in test/infra checks that both sides agree.
 */
const stage = EnvSchema.shape.STAGE.parse(process.env.STAGE);

export const logger = new Logger({ serviceName: METRICS_SERVICE, persistentKeys: { stage } });
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE, defaultDimensions: { stage } });
