import { Controller, Headers, HttpCode, MessageEvent, Post, Query, Sse, UnauthorizedException } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Observable, filter, from, interval, map, merge, switchMap, takeUntil } from 'rxjs';
import { AuthService, Public, Roles, hasRole } from '@fleetguard/auth/nest';
import { StreamTickets } from '../core/stream-ticket';
import { EventBusService } from './event-bus.service';

/** How often a running stream re-checks that its key is still valid (revocation ends it). */
const RECHECK_MS = 2_000;

/**
 * Server-sent events for the dashboard. EventSource cannot send headers, and a key in a URL is a
 * key in the logs: the page asks for a single-use ticket with its key (POST, bearer header) and
 * opens `GET /api/v1/events?ticket=`; the stream is scoped to the key's organization and ends
 * when the key is revoked.
 */
@ApiTags('events')
@Controller('api/v1/events')
export class EventsController {
  private readonly tickets = new StreamTickets<string>();

  constructor(
    private readonly bus: EventBusService,
    private readonly auth: AuthService,
  ) {}

  @Post('tickets')
  @ApiBearerAuth()
  @Roles('admin', 'manufacturer', 'operator', 'auditor')
  @HttpCode(201)
  ticket(@Headers('authorization') authorization: string) {
    // the guard has authenticated this header already
    return this.tickets.issue(/^Bearer\s+(\S+)/i.exec(authorization)![1]);
  }

  @Sse()
  @Public()
  async stream(@Query('ticket') ticket?: string): Promise<Observable<MessageEvent>> {
    const key = ticket ? this.tickets.take(ticket) : null;
    const p = key ? await this.auth.authenticate(key) : null;
    if (!p) throw new UnauthorizedException('open the stream with ?ticket= from POST /api/v1/events/tickets (single use, 30 s)');
    const org = hasRole(p, 'admin') ? null : p.organizationId;
    const revoked = interval(RECHECK_MS).pipe(
      switchMap(() => from(this.auth.authenticate(key!))),
      filter((still) => !still),
    );
    const events = this.bus.stream(org).pipe(map((e) => ({ id: e.id, type: e.type, data: e }) as MessageEvent));
    const keepalive = interval(15_000).pipe(map(() => ({ type: 'ping', data: { at: new Date().toISOString() } }) as MessageEvent));
    return merge(events, keepalive).pipe(takeUntil(revoked));
  }
}
