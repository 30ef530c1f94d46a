import { Controller, MessageEvent, Query, Sse, UnauthorizedException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { Observable, map, merge, interval } from 'rxjs';
import { AuthService, Public, hasRole } from '@fleetguard/auth';
import { EventBusService } from './event-bus.service';

/**
 * Server-sent events for the dashboard. EventSource cannot send headers, so the API key may come
 * as `?key=`; it is checked like a bearer key and scopes the stream to the key's organization.
 */
@ApiTags('events')
@Controller('api/v1/events')
export class EventsController {
  constructor(
    private readonly bus: EventBusService,
    private readonly auth: AuthService,
  ) {}

  @Sse()
  @Public()
  async stream(@Query('key') key?: string): Promise<Observable<MessageEvent>> {
    const p = key ? await this.auth.authenticate(key) : null;
    if (!p) throw new UnauthorizedException('pass a valid API key as ?key=');
    const org = hasRole(p, 'admin') ? null : p.organizationId;
    const events = this.bus.stream(org).pipe(map((e) => ({ id: e.id, type: e.type, data: e }) as MessageEvent));
    const keepalive = interval(15_000).pipe(map(() => ({ type: 'ping', data: { at: new Date().toISOString() } }) as MessageEvent));
    return merge(events, keepalive);
  }
}
