/**
 * Keeps an instance's view of the rollout state current: a dedicated LISTEN connection (channel
 * `tandem_rollout`, payload the schema) for changes within milliseconds, and polling every
 * `pollIntervalMs` (default 1 s) as the fallback: behind PgBouncer in transaction mode LISTEN
 * does not work (pass `listen: false`, or `listenConnectionString` to the server directly), and a
 * notification sent while the LISTEN connection was down is lost, so it also re-reads after every
 * reconnect. When the state cannot be read, the last known state stays in force.
 */
import pg from 'pg';
import { RolloutStateUnreadableError } from './errors.js';
import { readRolloutState, type RolloutState, sameRouting } from './rollout-state.js';
import type { SqlRunner } from './sql-runner.js';

export const ROLLOUT_CHANNEL = 'tandem_rollout';

export interface WatchRolloutOptions {
  /** Target schema. */
  schema: string;
  /** Runs the state reads (the app's pool: pgRunner(pool)). Else reads go over the LISTEN connection. */
  run?: SqlRunner;
  /** Connection for LISTEN (and for reads when `run` is absent): a URL straight to the server, not through a transaction pooler. */
  connectionString?: string;
  /** pg connection config for LISTEN when no connectionString is given (e.g. a pool's `options`). */
  connectionConfig?: pg.ClientConfig;
  /** Listen for notifications (default true when a connection is given). */
  listen?: boolean;
  /** Poll interval, ms (default 1000). */
  pollIntervalMs?: number;
  /** A read that takes longer than this counts as failed, ms (default 2000). */
  readTimeoutMs?: number;
  /** The first state, if known (else it is read before watchRollout returns). */
  initial?: RolloutState;
  onChange?: (state: RolloutState, previous: RolloutState) => void;
  /** Background failures (unreachable database, lost LISTEN connection); the last state stays. */
  onError?: (err: unknown) => void;
}

export interface RolloutWatcher {
  /** The last known state. */
  current(): RolloutState;
  /** Read now; on failure the last known state is kept and the error is thrown. */
  refresh(): Promise<RolloutState>;
  /** Whether the LISTEN connection is up. */
  listening(): boolean;
  /** When the state was last read successfully (ms since epoch). */
  lastReadAt(): number;
  close(): Promise<void>;
}

export async function watchRollout(opts: WatchRolloutOptions): Promise<RolloutWatcher> {
  const watcher = new Watcher(opts);
  await watcher.begin();
  return watcher;
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;

class Watcher implements RolloutWatcher {
  private state: RolloutState | undefined;
  private readAt = 0;
  private listenClient: pg.Client | undefined;
  private listenUp = false;
  private closed = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay = RECONNECT_MIN_MS;
  private inFlight: Promise<RolloutState> | undefined;
  private rereadWanted = false;

  constructor(private readonly opts: WatchRolloutOptions) {}

  async begin(): Promise<void> {
    if (this.opts.initial) this.state = this.opts.initial;
    if (this.wantsListen()) await this.connectListener().catch((err: unknown) => this.reportAndReconnect(err));
    if (!this.state) {
      if (!this.opts.run && !this.listenUp) throw new Error('rollout watcher: no way to read the state (give `run`, or a reachable connection)');
      await this.refresh();
    }
    this.pollTimer = setInterval(() => void this.refresh().catch(() => undefined), this.opts.pollIntervalMs ?? 1_000);
    this.pollTimer.unref();
  }

  current(): RolloutState {
    return this.state!;
  }

  listening(): boolean {
    return this.listenUp;
  }

  lastReadAt(): number {
    return this.readAt;
  }

  /** One read at a time; a notification arriving during a read asks for one more read after it. */
  refresh(): Promise<RolloutState> {
    if (this.inFlight) {
      this.rereadWanted = true;
      return this.inFlight;
    }
    this.inFlight = this.readOnce().finally(() => {
      this.inFlight = undefined;
      if (this.rereadWanted && !this.closed) {
        this.rereadWanted = false;
        void this.refresh().catch(() => undefined);
      }
    });
    return this.inFlight;
  }

  private async readOnce(): Promise<RolloutState> {
    const viaListener = this.listenUp ? this.listenClient : undefined;
    try {
      const next = await withTimeout(readRolloutState(this.reader(viaListener), this.opts.schema), this.opts.readTimeoutMs ?? 2_000);
      this.readAt = Date.now();
      this.apply(next);
      return next;
    } catch (err) {
      // A LISTEN connection that cannot answer a read (a half-open TCP connection after a network
      // fault never errors by itself) is dropped and reconnected; reads go to `run` meanwhile.
      if (viaListener && !(err instanceof RolloutStateUnreadableError)) this.lost(viaListener, err);
      this.opts.onError?.(err);
      throw err;
    }
  }

  /** The LISTEN connection while it is up (it is idle, and needs no slot of the app's pool), else `run`. */
  private reader(client: pg.Client | undefined): SqlRunner {
    if (client) return async (text, params) => (await client.query(text, params)).rows as Record<string, unknown>[];
    return this.opts.run ?? (() => Promise.reject(new Error('rollout watcher: the state connection is down')));
  }

  private apply(next: RolloutState): void {
    const previous = this.state;
    this.state = next;
    if (previous && !sameRouting(previous, next)) this.opts.onChange?.(next, previous);
  }

  private wantsListen(): boolean {
    return this.opts.listen !== false && (this.opts.connectionString !== undefined || this.opts.connectionConfig !== undefined);
  }

  private async connectListener(): Promise<void> {
    const config: pg.ClientConfig = {
      ...(this.opts.connectionConfig ?? {}),
      ...(this.opts.connectionString !== undefined ? { connectionString: this.opts.connectionString } : {}),
      application_name: 'tandem-rollout-watcher',
      connectionTimeoutMillis: 2_000,
      keepAlive: true,
    };
    const client = new pg.Client(config);
    this.listenClient = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('rollout watcher: the LISTEN connection ended')));
    client.on('notification', (msg) => {
      if (msg.channel === ROLLOUT_CHANNEL && (msg.payload === undefined || msg.payload === this.opts.schema)) void this.refresh().catch(() => undefined);
    });
    await client.connect();
    await client.query(`LISTEN ${ROLLOUT_CHANNEL}`);
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listenUp = true;
    this.reconnectDelay = RECONNECT_MIN_MS;
  }

  private lost(client: pg.Client, err: unknown): void {
    if (client !== this.listenClient || this.closed) return;
    const wasUp = this.listenUp;
    this.listenUp = false;
    this.listenClient = undefined;
    void client.end().catch(() => undefined);
    if (wasUp) this.reportAndReconnect(err);
  }

  private reportAndReconnect(err: unknown): void {
    this.listenUp = false;
    this.opts.onError?.(err);
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.connectListener().then(
        // Notifications sent while the connection was down are lost: read once now.
        () => void this.refresh().catch(() => undefined),
        (e: unknown) => {
          const failed = this.listenClient;
          this.listenClient = undefined;
          void failed?.end().catch(() => undefined);
          this.reportAndReconnect(e);
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.listenClient;
    this.listenClient = undefined;
    this.listenUp = false;
    await this.inFlight?.catch(() => undefined);
    // end() waits for the server's goodbye, which a dead connection never sends.
    if (client) await withTimeout(client.end(), 1_000).catch(() => undefined);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`rollout watcher: reading the state took more than ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
