/**
 * Complaint-rate thresholds (DOMAIN.md §9): Gmail and Yahoo ask bulk senders to stay under 0.1 %
 * and refuse mail above 0.3 %.
 */
export const COMPLAINT_RATE_THRESHOLDS = [0.001, 0.003] as const

/** 0 under 0.1 %, 1 from 0.1 %, 2 from 0.3 %. */
export type ComplaintRateLevel = 0 | 1 | 2

/** The level of a complaint rate (complaints ÷ recipients delivered, over 24 h). */
export function complaintRateLevel(rate: number): ComplaintRateLevel {
  if (rate >= COMPLAINT_RATE_THRESHOLDS[1]) return 2
  if (rate >= COMPLAINT_RATE_THRESHOLDS[0]) return 1
  return 0
}

/**
 * complaints ÷ delivered; 0 when nothing was delivered in the window (a complaint about older mail
 * on an idle server is listed, but is no rate).
 */
export function complaintRate(complained: number, delivered: number): number {
  return delivered > 0 ? complained / delivered : 0
}
