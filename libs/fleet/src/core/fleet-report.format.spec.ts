import { CSV_COLUMNS, FleetReportRow, csvField, csvHeader, csvRow } from './fleet-report.format';

/** A small RFC 4180 reader, to check that what is written reads back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  return rows;
}

const row = (over: Partial<FleetReportRow> = {}): FleetReportRow => ({
  id: 'fg-0011223344556677',
  productId: '6f1c1f5e-6a4b-4c55-9d2a-5b8f1d1f0a01',
  productName: 'PLC 9000',
  operatorId: null,
  status: 'active',
  integrity: 'affirming',
  firmwareVersion: '1.2.3',
  securityCounter: 7,
  lastAttestationStatus: 'affirming',
  lastAttestationAt: '2025-06-01T12:00:00.000Z',
  affirmedAt: '2025-06-01T12:00:00.000Z',
  evidenced: { FR1: 2, FR2: 1, FR3: 2, FR4: 0, FR5: 1, FR6: 2, FR7: 1 },
  declared: { FR1: 3, FR2: 2, FR3: 2, FR4: 1, FR5: 2, FR6: 2, FR7: 2 },
  belowTarget: true,
  lastSeenAt: null,
  enrolledAt: '2025-05-01T00:00:00.000Z',
  ...over,
});

describe('fleet report CSV', () => {
  it('quotes commas, quotes and line breaks, and leaves plain text alone', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
    expect(csvField(0)).toBe('0');
    expect(csvField(false)).toBe('false');
  });

  it('defuses text a spreadsheet would run as a formula', () => {
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('@SUM')).toBe("'@SUM");
  });

  it('writes a header and rows with FR1..FR7 columns for both vectors, which read back', () => {
    const text = csvHeader() + csvRow(row()) + csvRow(row({ id: 'fg-2', productName: 'Odd, "quoted"\r\nname', evidenced: null, declared: null, belowTarget: null }));
    const [header, a, b] = parseCsv(text);
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(header).toEqual(expect.arrayContaining(['evidenced_FR1', 'evidenced_FR7', 'declared_FR1', 'declared_FR7', 'belowTarget']));
    const get = (r: string[], c: string) => r[header.indexOf(c)];
    expect(get(a, 'id')).toBe('fg-0011223344556677');
    expect(get(a, 'evidenced_FR4')).toBe('0');
    expect(get(a, 'declared_FR1')).toBe('3');
    expect(get(a, 'belowTarget')).toBe('true');
    expect(get(b, 'productName')).toBe('Odd, "quoted"\r\nname');
    expect(get(b, 'evidenced_FR1')).toBe('');
    expect(get(b, 'belowTarget')).toBe('');
    expect(a).toHaveLength(header.length);
    expect(b).toHaveLength(header.length);
  });
});
