// The configured backend. One place that knows every store.
import type { ConsoleConfig } from '@hookyard/core';
import type { IndexStore } from './driver.ts';
import { PgStore } from './pg/store.ts';
import { SqliteStore } from './sqlite/store.ts';

export async function openStore(cfg: ConsoleConfig['store']): Promise<IndexStore> {
  switch (cfg.type) {
    case 'sqlite': return new SqliteStore({ path: cfg.path });
    case 'postgres': return PgStore.open({ url: cfg.url, poolSize: cfg.poolSize });
  }
}
