import { RemovalPolicy } from 'aws-cdk-lib';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  InterfaceVpcEndpoint,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
  type SubnetSelection,
} from 'aws-cdk-lib/aws-ec2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { InfraConfigError } from './errors.ts';

export interface NetworkProps {
  /**
   * Availability zones; the database needs two subnets in different zones even when single-AZ.
   * @default 2
   */
  readonly maxAzs?: number;
  /**
   * Retention of the VPC flow log (rejected traffic only).
   * @default RetentionDays.ONE_MONTH
   */
  readonly flowLogRetention?: RetentionDays;
}

export class NetworkConfigError extends InfraConfigError {
  override readonly name = 'NetworkConfigError';
}

/**
 * Private isolated subnets only, with interface endpoints for the AWS APIs that functions inside
 * the VPC call, so no NAT gateway (and no route to the internet) exists. Each endpoint is here for
 * a caller:
 * - SQS: ingest sends invalid records to its DLQ and derived events to the events queue;
 * - Secrets Manager: the migration reads the master secret; secret rotation;
 * - Kinesis: reading a failed batch's sequence range back from the stream (the OnFailure
 *   destination only carries metadata) from inside the VPC.
 * No X-Ray endpoint: tapline does not trace (docs/operations.md, "Tracing").
 * CloudWatch Logs needs no endpoint: Lambda ships function logs outside the VPC, and metrics are EMF
 * log lines. RDS IAM tokens are signed locally (no STS or RDS API call).
 */
export class Network extends Construct {
  public readonly vpc: Vpc;
  public readonly isolatedSubnets: SubnetSelection = { subnetType: SubnetType.PRIVATE_ISOLATED };
  /** Shared by the interface endpoints; admits HTTPS from the security groups made by `functionSecurityGroup`. */
  public readonly endpointSecurityGroup: SecurityGroup;
  public readonly secretsManagerEndpoint: InterfaceVpcEndpoint;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    const maxAzs = props.maxAzs ?? 2;
    if (!Number.isInteger(maxAzs) || maxAzs < 2 || maxAzs > 6) {
      throw new NetworkConfigError(`maxAzs must be 2..6 (RDS needs subnets in two zones), got ${maxAzs}`);
    }
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr('10.40.0.0/16'),
      maxAzs,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 22 }],
    });
    const flowLogs = new LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('RejectedTraffic', {
      destination: FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: FlowLogTrafficType.REJECT,
    });

    this.endpointSecurityGroup = new SecurityGroup(this, 'Endpoints', {
      vpc: this.vpc,
      description: 'tapline interface endpoints: HTTPS from tapline functions',
      allowAllOutbound: false,
    });
    const endpoint = (name: string, service: InterfaceVpcEndpointAwsService): InterfaceVpcEndpoint =>
      this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: this.isolatedSubnets,
        securityGroups: [this.endpointSecurityGroup],
        privateDnsEnabled: true,
        open: false,
      });
    endpoint('Sqs', InterfaceVpcEndpointAwsService.SQS);
    this.secretsManagerEndpoint = endpoint('SecretsManager', InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
    endpoint('Kinesis', InterfaceVpcEndpointAwsService.KINESIS_STREAMS);
  }

  /**
   * A security group for in-VPC functions with no egress but HTTPS to the interface endpoints;
   * the database adds the one PostgreSQL rule the group needs.
   */
  functionSecurityGroup(id: string, description: string): SecurityGroup {
    const group = new SecurityGroup(this, id, { vpc: this.vpc, description, allowAllOutbound: false });
    group.addEgressRule(this.endpointSecurityGroup, Port.tcp(443), 'AWS APIs through interface endpoints');
    this.endpointSecurityGroup.addIngressRule(group, Port.tcp(443), `${id} calls AWS APIs`);
    return group;
  }
}
