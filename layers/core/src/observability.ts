import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * One Logger and one Metrics per container, shared by every handler: structured JSON logs and
 * CloudWatch EMF metrics. Service name and namespace are constants so dashboards and alarms can
 * rely on them; POWERTOOLS_* environment variables still override them where a stage needs to.
 */
export const logger = new Logger({ serviceName: 'tapline' });
export const metrics = new Metrics({ namespace: 'Tapline', serviceName: 'tapline' });
