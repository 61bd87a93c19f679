export { default } from '../testing/vitest.shared.js'
