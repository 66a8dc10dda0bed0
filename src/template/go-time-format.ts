/**
 * Go's time.Format for an instant in UTC (consul-template's `timestamp` formats
 * time.Now().UTC()). The layout names the parts of the reference time
 * Mon Jan 2 15:04:05 MST 2006; tokens are recognised as Go's nextStdChunk does. Pure.
 */
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const pad = (n: number, width: number, fill = '0') => String(n).padStart(width, fill);
const startsLower = (s: string) => s.length > 0 && s[0] >= 'a' && s[0] <= 'z';
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** Zone tokens, longest first, and what Go prints for them at offset zero. */
const ZONES: [string, string][] = [
  ['Z070000', 'Z'], ['Z07:00:00', 'Z'], ['Z0700', 'Z'], ['Z07:00', 'Z'], ['Z07', 'Z'],
  ['-070000', '+000000'], ['-07:00:00', '+00:00:00'], ['-0700', '+0000'], ['-07:00', '+00:00'], ['-07', '+00'],
];

interface Parts {
  year: number; month: number; day: number; yday: number; weekday: number;
  hour: number; minute: number; second: number; nanos: string;
}

function parts(d: Date, nanos: number): Parts {
  const year = d.getUTCFullYear();
  return {
    year, month: d.getUTCMonth(), day: d.getUTCDate(), weekday: d.getUTCDay(),
    yday: (Date.UTC(year, d.getUTCMonth(), d.getUTCDate()) - Date.UTC(year, 0, 1)) / 86_400_000 + 1,
    hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), nanos: pad(nanos, 9),
  };
}

/** The token at the head of `s`: [length, text], or undefined when s[0] is a literal. */
function token(s: string, p: Parts): [number, string] | undefined {
  const at = (t: string) => s.startsWith(t);
  const hour12 = p.hour % 12 || 12;
  switch (s[0]) {
    case 'J':
      if (at('January')) return [7, MONTHS[p.month]];
      if (at('Jan') && !startsLower(s.slice(3))) return [3, MONTHS[p.month].slice(0, 3)];
      return undefined;
    case 'M':
      if (at('Monday')) return [6, DAYS[p.weekday]];
      if (at('Mon') && !startsLower(s.slice(3))) return [3, DAYS[p.weekday].slice(0, 3)];
      if (at('MST')) return [3, 'UTC'];
      return undefined;
    case '0': {
      const zero: Record<string, number> = { '1': p.month + 1, '2': p.day, '3': hour12, '4': p.minute, '5': p.second, '6': p.year % 100 };
      if (s[1] in zero) return [2, pad(zero[s[1]], 2)];
      if (at('002')) return [3, pad(p.yday, 3)];
      return undefined;
    }
    case '1':
      return at('15') ? [2, pad(p.hour, 2)] : [1, String(p.month + 1)];
    case '2':
      return at('2006') ? [4, pad(p.year, 4)] : [1, String(p.day)];
    case '_':
      if (at('_2006')) return undefined; // a literal "_" before the year
      if (at('_2')) return [2, pad(p.day, 2, ' ')];
      if (at('__2')) return [3, pad(p.yday, 3, ' ')];
      return undefined;
    case '3':
      return [1, String(hour12)];
    case '4':
      return [1, String(p.minute)];
    case '5':
      return [1, String(p.second)];
    case 'P':
      return at('PM') ? [2, p.hour >= 12 ? 'PM' : 'AM'] : undefined;
    case 'p':
      return at('pm') ? [2, p.hour >= 12 ? 'pm' : 'am'] : undefined;
    case '-':
    case 'Z': {
      const z = ZONES.find(([t]) => at(t));
      return z ? [z[0].length, z[1]] : undefined;
    }
    case '.':
    case ',': {
      const ch = s[1];
      if (ch !== '0' && ch !== '9') return undefined;
      let n = 1;
      while (s[n + 1] === ch) n++;
      if (isDigit(s[n + 1])) return undefined; // only a fraction when the run of digits ends here
      if (ch === '0') return [n + 1, s[0] + p.nanos.slice(0, n)];
      const kept = p.nanos.slice(0, n).replace(/0+$/, '');
      return [n + 1, kept ? s[0] + kept : ''];
    }
    default:
      return undefined;
  }
}

/** Format `d` (milliseconds precision; `nanos` overrides the sub-second part) with a Go layout, in UTC. */
export function formatGoTime(d: Date, layout: string, nanos = d.getUTCMilliseconds() * 1_000_000): string {
  const p = parts(d, nanos);
  let out = '';
  for (let i = 0; i < layout.length; ) {
    const t = token(layout.slice(i), p);
    if (t) {
      out += t[1];
      i += t[0];
    } else {
      out += layout[i++];
    }
  }
  return out;
}

export const RFC3339 = '2006-01-02T15:04:05Z07:00';
