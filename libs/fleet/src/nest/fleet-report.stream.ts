import type { ServerResponse } from 'node:http';
import { FleetReportRow, csvHeader, csvRow } from '../core/fleet-report.format';

export type ReportFormat = 'csv' | 'json';

/** Writes a chunk, waiting for the socket to drain when its buffer is full (or for it to close). */
function write(res: ServerResponse, chunk: string): Promise<void> {
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

/**
 * Streams the report to the response as the batches come: CSV with a header row (RFC 4180,
 * CRLF), or one JSON array. The first batch is read before any byte is sent, so an early failure
 * is still an ordinary JSON error; a failure after that aborts the connection (the client sees a
 * truncated transfer, never a short file that looks complete). A client that goes away stops the
 * queries.
 */
export async function streamFleetReport(batches: AsyncGenerator<FleetReportRow[]>, format: ReportFormat, res: ServerResponse, now: Date): Promise<void> {
  let next = await batches.next();
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  res.statusCode = 200;
  res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="fleetguard-report-${stamp}.${format}"`);
  res.setHeader('Cache-Control', 'no-store');
  let first = true;
  try {
    await write(res, format === 'csv' ? csvHeader() : '[');
    while (!next.done) {
      if (res.destroyed) {
        await batches.return(undefined);
        return;
      }
      let chunk = '';
      for (const row of next.value) {
        if (format === 'csv') chunk += csvRow(row);
        else {
          chunk += (first ? '\n' : ',\n') + JSON.stringify(row);
          first = false;
        }
      }
      await write(res, chunk);
      next = await batches.next();
    }
    res.end(format === 'csv' ? '' : first ? ']\n' : '\n]\n');
  } catch (e) {
    res.destroy(e as Error);
    throw e;
  }
}
