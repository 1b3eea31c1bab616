/**
 * The AWS SDK for JavaScript v3 prints a NodeVersionSupportWarning (a ten-line notice that it will
 * require Node 22 from 2027) when its first client is created on an older Node. Lambda runs the
 * functions on nodejs22.x, where it never prints; on a developer's Node 20 it would open every
 * command and every test run and say nothing about tapline. This is the one place that turns it
 * off: imported first by every command (through run.ts) and by the test setup, and inherited by
 * the processes they start (through process.env). On Node 22 and later it does nothing.
 */
export const SDK_NOTICE_ENV = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

if (Number(process.versions.node.split('.')[0]) < 22) process.env[SDK_NOTICE_ENV] ??= 'true';

/** For a child process started with an environment of its own (not process.env): the same setting. */
export const sdkNoticeEnv = (): Record<string, string> => {
  const value = process.env[SDK_NOTICE_ENV];
  return value === undefined ? {} : { [SDK_NOTICE_ENV]: value };
};
