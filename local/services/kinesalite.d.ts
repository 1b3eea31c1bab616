// kinesalite ships no types; its surface here is one factory returning an http.Server.
declare module 'kinesalite' {
  import type { Server } from 'node:http';
  export default function kinesalite(options?: { createStreamMs?: number; deleteStreamMs?: number; updateStreamMs?: number; shardLimit?: number }): Server;
}
