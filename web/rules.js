// The API's field rules, mirrored so most mistakes are caught before a request is spent. The
// API stays the authority (libs/gelombang/nik.py, services/registration/schemas.py); the codes
// returned here are the API's error codes, so both kinds of error render the same way.

const MIN_AGE = 18;
const MAX_AGE = 120;

function realDate(y, m, d) {
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d
    ? dt
    : null;
}

// Registration day on the Indonesian calendar (Asia/Jakarta), as the API judges age.
export function jakartaToday() {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Jakarta" }).format(new Date());
  const [y, m, d] = parts.split("-").map(Number);
  return { y, m, d };
}

// `regions` is null while data/regions.json is still on its way: the form works meanwhile, the
// region prefix is checked once the list is there (and by the API in any case).
export function parseNik(nik, regions) {
  if (!/^[0-9]{16}$/.test(nik)) return { error: "nik_format" };
  const province = nik.slice(0, 2);
  const regency = nik.slice(0, 4);
  if (regions && !regions.provinceNames.has(province)) return { error: "nik_province_unknown" };
  if (regions && !regions.regencyNames.has(regency) && !regions.formerNikRegencies.has(regency)) {
    return { error: "nik_regency_unknown" };
  }
  const rawDay = Number(nik.slice(6, 8));
  const month = Number(nik.slice(8, 10));
  const yy = Number(nik.slice(10, 12));
  // Women's NIKs carry the birth day plus 40.
  const gender = rawDay > 40 ? "F" : "M";
  const day = gender === "F" ? rawDay - 40 : rawDay;
  const candidates = [1900, 2000].map((c) => realDate(c + yy, month, day)).filter(Boolean);
  if (candidates.length === 0) return { error: "nik_date_invalid" };
  if (nik.slice(12) === "0000") return { error: "nik_serial_zero" };
  return { gender, day, month, yy, candidates };
}

function ageOn(born, today) {
  const beforeBirthday =
    today.m < born.m || (today.m === born.m && today.d < born.d) ? 1 : 0;
  return today.y - born.y - beforeBirthday;
}

// The century the NIK leaves open: the most recent reading that is not in the future.
export function likelyBirthDate(parsed, today = jakartaToday()) {
  const past = parsed.candidates
    .map((d) => ({ y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate() }))
    .filter((b) => ageOn(b, today) >= 0);
  const pick = past[past.length - 1];
  if (!pick) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${pick.y}-${pad(pick.m)}-${pad(pick.d)}`;
}

function eighteenthBirthday(b) {
  // Born 29 February: the 18th birthday is 1 March in a common year (as the API reads it).
  const y = b.y + MIN_AGE;
  return realDate(y, b.m, b.d) ? { y, m: b.m, d: b.d } : { y, m: 3, d: 1 };
}

function before(a, b) {
  return a.y !== b.y ? a.y < b.y : a.m !== b.m ? a.m < b.m : a.d < b.d;
}

export function checkBirthDate(value, nikParsed, today = jakartaToday()) {
  const match = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(value || "");
  if (!match) return "missing";
  const b = { y: Number(match[1]), m: Number(match[2]), d: Number(match[3]) };
  if (!realDate(b.y, b.m, b.d)) return "missing";
  if (before(today, b)) return "birth_date_in_future";
  if (ageOn(b, today) > MAX_AGE) return "birth_date_implausible";
  if (nikParsed && !nikParsed.error) {
    if (b.d !== nikParsed.day || b.m !== nikParsed.month || b.y % 100 !== nikParsed.yy) {
      return "nik_birth_date_mismatch";
    }
  }
  if (before(today, eighteenthBirthday(b))) return "age_under_18";
  return null;
}

const NAME_OK = /^[\p{L}\p{M} .,'\u2019\u2018`\u02bc-]+$/u;

export function checkName(value) {
  if (!value.trim()) return "missing";
  if (!NAME_OK.test(value) || !/\p{L}/u.test(value)) return "full_name_invalid";
  return null;
}

export function checkPhone(value) {
  if (!value.trim()) return null;
  if (!/^\+?[0-9 ()./-]{6,24}$/.test(value.trim())) return "phone_invalid";
  const digits = value.replace(/[^0-9]/g, "");
  // Indonesian mobiles: 08xx… nationally, 628xx… internationally, 10–13 digits after the 0.
  const national = digits.startsWith("62") ? "0" + digits.slice(2) : digits;
  if (!/^08[0-9]{8,11}$/.test(national)) return "phone_invalid";
  return null;
}

export function checkEmail(value) {
  if (!value.trim()) return null;
  return /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/.test(value.trim()) ? null : "email_invalid";
}
