import { spawn } from 'node:child_process';

export interface CommandOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of the project's commands (a tsx script) as a child process, as `npm run` would, with
 * only the environment a shell passes (PATH, HOME) plus `env`: no DATABASE_URL or AWS endpoint of
 * the test's own process leaks into it.
 */
export function runCommandProcess(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
