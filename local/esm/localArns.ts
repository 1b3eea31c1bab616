/** The account the emulators act in (kinesalite and fauxqs use the same one in their ARNs). */
export const LOCAL_ACCOUNT = '000000000000';

export const functionArn = (region: string, functionName: string): string => `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:${functionName}`;

/** The function's execution role: what a Kinesis event names as `invokeIdentityArn`. */
export const executionRoleArn = (functionName: string): string => `arn:aws:iam::${LOCAL_ACCOUNT}:role/${functionName}-role`;
