import { Controller, Get, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import * as path from 'node:path';
import { Public } from '@fleetguard/auth/nest';
import { ATTENTION_STATUSES, FRS, INTEGRITY_STATUSES } from '@fleetguard/common';

/** The dashboard's files: copied beside this file into dist/ by scripts/build.js. */
const DASHBOARD_DIR = path.join(__dirname, 'dashboard');
const ASSETS: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' };
/** The page talks only to this service: its own scripts and styles, its own API. Chart.js sets canvas styles inline. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * What the dashboard (plain JavaScript, no build step) would otherwise write out again: the FRs and
 * the integrity statuses, from the kernel in @fleetguard/common, as a script that sets
 * `window.FLEETGUARD_KERNEL` before app.js runs. Verdicts themselves (a device's integrity, an
 * appraisal's findings) come from the API; the page does not compute them.
 */
export const DASHBOARD_KERNEL_JS = `window.FLEETGUARD_KERNEL = Object.freeze(${JSON.stringify({
  frs: FRS,
  integrityStatuses: INTEGRITY_STATUSES,
  attentionStatuses: ATTENTION_STATUSES,
})});\n`;

/** chart.js exports only its entry points; the UMD build sits beside the CommonJS one. */
function chartJsFile(): string {
  return path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.js');
}

/**
 * The operator dashboard at `/`: static files only. The page holds no data, so it needs no key;
 * its API calls carry the key the user gives it.
 */
@ApiExcludeController()
@Public()
@Controller()
export class DashboardController {
  private readonly chartJs = chartJsFile();

  @Get()
  index(@Res() res: Response) {
    this.send(res, DASHBOARD_DIR, 'index.html', 'text/html; charset=utf-8', { 'Content-Security-Policy': CSP, 'Referrer-Policy': 'no-referrer' });
  }

  @Get('dashboard/vendor/chart.umd.js')
  chart(@Res() res: Response) {
    this.send(res, path.dirname(this.chartJs), path.basename(this.chartJs), ASSETS['app.js']);
  }

  @Get('dashboard/kernel.js')
  kernel(@Res() res: Response) {
    res.set({ 'Content-Type': ASSETS['app.js'], 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' }).send(DASHBOARD_KERNEL_JS);
  }

  @Get('dashboard/:file')
  asset(@Param('file') file: string, @Res() res: Response) {
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!type) throw new NotFoundException(`no dashboard file ${file}`);
    this.send(res, DASHBOARD_DIR, file, type);
  }

  /** `root` keeps express's dot-file check to the file name (the service may live under a dot directory). */
  private send(res: Response, root: string, file: string, type: string, headers: Record<string, string> = {}) {
    res.sendFile(file, { root, headers: { 'Content-Type': type, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache', ...headers } }, (err) => {
      if (err && !res.headersSent) res.status(404).json({ statusCode: 404, error: 'Not Found', message: `dashboard file missing: ${file}` });
    });
  }
}
