/**
 * AWS list prices, us-east-1, on-demand, without free tiers or savings plans, as published on the
 * services' pricing pages (aws.amazon.com/<service>/pricing). Recorded by hand on PRICES_AS_OF, not
 * fetched: check them before quoting a number to anyone.
 */
export const PRICES_AS_OF = '2025-06-01';
export const PRICE_REGION = 'us-east-1';

export const HOURS_PER_MONTH = 730;
export const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;
export const GIB = 1024 ** 3;

export interface InstancePrice {
  /** Single-AZ, PostgreSQL, USD per hour; Multi-AZ (one standby) is twice this. */
  hourly: number;
  /** RDS Proxy bills per vCPU of the instance behind it. */
  vcpus: number;
}

export const PRICES = {
  kinesis: {
    shardHour: 0.015,
    /** Per million PUT payload units; a unit is up to 25 KiB of one record. */
    putPayloadUnitsPerMillion: 0.014,
    putPayloadUnitBytes: 25 * 1024,
    /** Retention beyond 24 h and up to 7 days, per shard-hour. */
    extendedRetentionShardHour: 0.02,
    /** Retention beyond 7 days, per GB-month stored. */
    longTermRetentionGbMonth: 0.023,
    onDemandStreamHour: 0.04,
    /** On demand bills every record rounded up to 1 KiB, written and read. */
    onDemandDataInPerGb: 0.08,
    onDemandDataOutPerGb: 0.04,
    onDemandBillingUnitBytes: 1024,
    onDemandExtendedRetentionGbMonth: 0.1,
  },
  lambda: {
    /** arm64 (Graviton), as every tapline function runs. */
    perGbSecond: 0.0000133334,
    requestsPerMillion: 0.2,
  },
  sqs: {
    /** Standard queue; each 64 KiB chunk of a request counts as one request. */
    requestsPerMillion: 0.4,
  },
  rds: {
    instances: {
      't4g.micro': { hourly: 0.016, vcpus: 2 },
      't4g.small': { hourly: 0.032, vcpus: 2 },
      't4g.medium': { hourly: 0.065, vcpus: 2 },
      't4g.large': { hourly: 0.129, vcpus: 2 },
      'm7g.large': { hourly: 0.168, vcpus: 2 },
      'r7g.large': { hourly: 0.239, vcpus: 2 },
      'r7g.xlarge': { hourly: 0.478, vcpus: 4 },
    } as Record<string, InstancePrice>,
    /** gp3, Single-AZ; Multi-AZ is twice this. */
    storageGbMonth: 0.115,
    proxyVcpuHour: 0.015,
    proxyMinVcpus: 2,
  },
  secretsManager: { secretMonth: 0.4 },
  kms: { keyMonth: 1 },
  cloudWatch: {
    logsIngestedPerGb: 0.5,
    logsStoredGbMonth: 0.03,
    customMetricMonth: 0.3,
    /** Standard resolution, per metric an alarm evaluates (metric math alarms count each metric). */
    alarmMetricMonth: 0.1,
    dashboardMonth: 3,
  },
  vpcEndpoint: { azHour: 0.01, perGbProcessed: 0.01 },
} as const;

export type PriceTable = typeof PRICES;
