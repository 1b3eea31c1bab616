import { describe, expect, it } from 'vitest';
import { ConfigError, readEnv } from '#core/env';

describe('runtime settings', () => {
  it('reads SIMULATOR_AGGREGATE as a boolean, plain records when unset, and refuses anything but true or false', () => {
    // Act + Assess
    expect(readEnv({ SIMULATOR_AGGREGATE: 'true' }).SIMULATOR_AGGREGATE).toBe(true);
    expect(readEnv({ SIMULATOR_AGGREGATE: 'false' }).SIMULATOR_AGGREGATE).toBe(false);
    expect(readEnv({}).SIMULATOR_AGGREGATE).toBe(false);
    expect(() => readEnv({ SIMULATOR_AGGREGATE: 'yes' })).toThrow(ConfigError);
    expect(() => readEnv({ SIMULATOR_AGGREGATE: 'yes' })).toThrow(/SIMULATOR_AGGREGATE/);
  });
});
