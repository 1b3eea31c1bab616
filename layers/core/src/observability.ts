import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * One Logger and one Metrics per container, shared by every handler: structured JSON logs and
 * CloudWatch EMF metrics. Service name and namespace are constants (constructor options win over
 * POWERTOOLS_* variables) because the dashboard and alarms in infra/ read exactly these; a test
 * in test/infra checks that both sides agree.
 */
export const logger = new Logger({ serviceName: 'tapline' });
export const metrics = new Metrics({ namespace: 'Tapline', serviceName: 'tapline' });
