import { describe, expect, it } from 'vitest'
import { parseClusterUrl, parseSentinelUrl } from './redis-url.js'

describe('parseClusterUrl', () => {
  it('reads the seed nodes and credentials', () => {
    expect(parseClusterUrl('redis+cluster://:pw@n1:7000,n2,[::1]:7002')).toEqual({
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 6379 },
        { host: '::1', port: 7002 },
      ],
      username: undefined,
      password: 'pw',
    })
    expect(parseClusterUrl('redis+cluster://n1:7000/db')).toBeNull()
  })
})

describe('parseSentinelUrl', () => {
  it('reads the sentinels, the master name, credentials and the database', () => {
    expect(
      parseSentinelUrl(
        'redis+sentinel://:s%40cret@10.0.0.1:26380,sentinel-b,[::1]:26381/mymaster/2',
      ),
    ).toEqual({
      sentinels: [
        { host: '10.0.0.1', port: 26380 },
        { host: 'sentinel-b', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      name: 'mymaster',
      username: undefined,
      password: 's@cret',
      db: 2,
    })
  })

  it.each([
    'redis://host:6379',
    'redis+sentinel://host:26379',
    'redis+sentinel://host:99999/m',
    'redis+sentinel:///m',
  ])('refuses %s', (url) => {
    expect(parseSentinelUrl(url)).toBeNull()
  })
})
