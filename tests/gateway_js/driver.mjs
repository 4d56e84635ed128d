// Drives the unmodified @planetscale/database driver against a mywire gateway.
//
//   node tests/gateway_js/driver.mjs SCENARIO URL
//
// URL is http://user:password@127.0.0.1:PORT.  Prints one JSON document on stdout
// (tests/test_gateway_js.py checks it); Uint8Array values print as {"hex": "..."}.
// The tables the scenarios use are created by the Python test beforehand.
import { Client, connect, DatabaseError } from '@planetscale/database'

const [scenario, url] = process.argv.slice(2)

function plain(value) {
  if (value instanceof Uint8Array) return { hex: Buffer.from(value).toString('hex') }
  if (typeof value === 'bigint') return { bigint: value.toString() }
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  }
  return value
}

function describeError(err) {
  return {
    name: err.name,
    isDatabaseError: err instanceof DatabaseError,
    message: err.message,
    status: err.status ?? null,
    body: err.body ?? null
  }
}

async function count(conn, table) {
  const r = await conn.execute(`SELECT COUNT(*) AS n FROM ${table}`)
  return r.rows[0].n
}

const scenarios = {
  async types() {
    const conn = connect({ url })
    const r = await conn.execute('SELECT * FROM gw_types ORDER BY id')
    return { types: r.types, rows: plain(r.rows), size: r.size, headers: r.headers }
  },

  async crud() {
    const conn = connect({ url })
    const insert = await conn.execute('INSERT INTO gw_crud (v, note) VALUES (?, ?)', [
      7,
      "it's a \"quote\" \\ back\nslash"
    ])
    const insert2 = await conn.execute('INSERT INTO gw_crud (v) VALUES (?), (?)', [8, 9])
    const same = await conn.execute('UPDATE gw_crud SET v = v WHERE id = ?', [insert.insertId])
    const update = await conn.execute('UPDATE gw_crud SET v = v + 1 WHERE v >= ?', [8])
    const lastId = await conn.execute('SELECT LAST_INSERT_ID() AS id')
    const sel = await conn.execute('SELECT id, v, note FROM gw_crud WHERE id = :id', {
      id: insert.insertId
    })
    const when = new Date(Date.UTC(2024, 1, 29, 13, 14, 15, 123))
    const dates = await conn.execute('SELECT CAST(? AS DATETIME(3)) AS d, ? AS b', [
      when,
      new Uint8Array([0, 1, 254, 255])
    ])
    const boost = await conn.execute('SET @@boost_cached_queries = true')
    const replica = await conn.execute('USE `test@replica`')
    return {
      insert: { rowsAffected: insert.rowsAffected, insertId: insert.insertId },
      insert2: { rowsAffected: insert2.rowsAffected, insertId: insert2.insertId },
      same: { rowsAffected: same.rowsAffected },
      update: { rowsAffected: update.rowsAffected },
      lastInsertId: plain(lastId.rows[0]),
      row: plain(sel.rows[0]),
      dates: plain(dates.rows[0]),
      noops: [boost.size, replica.size, boost.rowsAffected]
    }
  },

  async transactions() {
    const client = new Client({ url })
    const conn = client.connection()
    const before = await count(conn, 'gw_tx')
    const committed = await client.transaction(async (tx) => {
      await tx.execute('INSERT INTO gw_tx (v) VALUES (?)', [1])
      const inside = await tx.execute('SELECT COUNT(*) AS n FROM gw_tx')
      await tx.execute('INSERT INTO gw_tx (v) VALUES (?)', [2])
      return inside.rows[0].n
    })
    const afterCommit = await count(conn, 'gw_tx')
    let rollbackError = null
    try {
      await client.transaction(async (tx) => {
        await tx.execute('INSERT INTO gw_tx (v) VALUES (?)', [3])
        throw new Error('boom')
      })
    } catch (err) {
      rollbackError = err.message
    }
    const afterRollback = await count(conn, 'gw_tx')
    let sqlErrorInTx = null
    try {
      await client.transaction(async (tx) => {
        await tx.execute('INSERT INTO gw_tx (v) VALUES (?)', [4])
        await tx.execute('INSERT INTO gw_tx (no_such_column) VALUES (1)')
      })
    } catch (err) {
      sqlErrorInTx = describeError(err)
    }
    const afterSqlError = await count(conn, 'gw_tx')
    return {
      before,
      committed,
      afterCommit,
      rollbackError,
      afterRollback,
      sqlErrorInTx,
      afterSqlError
    }
  },

  async sql_error() {
    const conn = connect({ url })
    const out = {}
    for (const [name, sql] of [
      ['missing', 'SELECT * FROM gw_no_such_table'],
      ['syntax', 'SELEC 1'],
      ['duplicate', 'INSERT INTO gw_crud (id, v) VALUES (1, 1), (1, 1)']
    ]) {
      try {
        await conn.execute(sql)
        out[name] = null
      } catch (err) {
        out[name] = describeError(err)
      }
    }
    const after = await conn.execute('SELECT 1 AS ok')
    out.after = plain(after.rows)
    return out
  },

  async bad_auth() {
    const u = new URL(url)
    u.password = 'wrong-password'
    try {
      await connect({ url: u.toString() }).execute('SELECT 1')
      return { error: null }
    } catch (err) {
      return { error: describeError(err) }
    }
  },

  async concurrent() {
    const client = new Client({ url })
    const shared = connect({ url })
    await shared.execute('SELECT 1')
    const calls = []
    for (let i = 0; i < 50; i++) {
      const target = i % 2 ? client : shared
      calls.push(target.execute('SELECT ? AS n, SLEEP(0.02) AS s', [i]))
    }
    const results = await Promise.allSettled(calls)
    return {
      fulfilled: results.filter((r) => r.status === 'fulfilled').length,
      values: results.map((r) => (r.status === 'fulfilled' ? r.value.rows[0].n : r.reason.message))
    }
  },

  async session_state() {
    // User variables pin the session's connection; other sessions don't see them.
    const conn = connect({ url })
    await conn.execute('SET @gw_var = 42')
    const mine = await conn.execute('SELECT @gw_var AS v')
    const other = await connect({ url }).execute('SELECT @gw_var AS v')
    return { mine: plain(mine.rows[0]), other: plain(other.rows[0]) }
  }
}

const run = scenarios[scenario]
if (!run) {
  console.error(`unknown scenario ${scenario}; one of ${Object.keys(scenarios).join(', ')}`)
  process.exit(2)
}
try {
  console.log(JSON.stringify(await run()))
} catch (err) {
  console.log(JSON.stringify({ uncaught: describeError(err), stack: err.stack }))
  process.exit(1)
}
