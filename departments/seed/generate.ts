/**
 * The one seed generator of the five sandbox departments: deterministic from (seed, size),
 * synthetic but valid identifiers, consistent across departments:
 * - every person is known to social security (employee or resident insurance);
 * - an employee's employer is a registered enterprise with an employer account;
 * - every property owner who is a person has paid deed tax 契税 for it, and is a taxpayer;
 * - every legal representative is a seeded person, known to social security and tax;
 * - a housing provident fund 住房公积金 account is paid through its holder's social-security
 *   employer, and a fund loan's property is one its holder owns.
 *
 * The housing fund part is made last, from its own random stream, so adding it left every
 * other part of the data exactly as it was for the same (seed, size).
 *
 * A seed can be confined to one city (`city`), and can have units owned by another city's persons
 * (`crossCity`): those owners are not persons of this seed, the one exception to the list above.
 *
 * All dates are relative to a fixed reference day, never the wall clock, so the same
 * (seed, size) always gives the same data.
 */
import { citizenIdCheckChar, creditCodeCheckChar, orgCodeCheckChar } from '../../src/sdk';
import type {
  CreditRating,
  EnterpriseKind,
  EnterpriseStatus,
  InsuranceType,
  OwnerKind,
  PropertyUsage,
  SeedData,
  SeedEmployerAccount,
  SeedEnterprise,
  SeedEnterpriseEvent,
  SeedFundAccount,
  SeedFundEmployer,
  SeedInsured,
  SeedPerson,
  SeedCity,
  SeedProperty,
  SeedTaxpayer,
  TaxType,
} from './model';

/** The cities a seed can be confined to (跨域通办: one hub, one city). */
export const SEED_CITIES: readonly SeedCity[] = Object.freeze(['taian', 'heze']);

/** Cross-city references of `SeedOptions.crossCity`: units of this city owned by persons of another city's seed. */
export interface CrossCityOptions {
  /** The other city's seed (made with another `city`): the owners are its persons, as it has them. */
  from: SeedData;
  /** How many of its persons own a unit in this city, one each: 1 to 100. */
  sellers: number;
}

/** Options of `generateSeed`. */
export interface SeedOptions {
  /** Any integer; the same seed and size give the same data. */
  seed: number;
  /** Number of persons: 200 for tests, 100 000 for benchmarks. */
  size: number;
  /**
   * Confine the seed to one city: identity numbers, credit codes, unit numbers, addresses,
   * certificates, tax offices, authorities and courts are that city's. @default persons all over
   * Shandong (the seed of the single hub, unchanged by this option)
   */
  city?: SeedCity;
  /**
   * Units of this city owned by persons registered in another city (`from`): a property transfer
   * here whose seller's tax and social-security records are only in that city. Made last, from a
   * random stream of their own: the rest of the seed is the same with or without them.
   */
  crossCity?: CrossCityOptions;
}

/** Defaults of the sandboxes: the test size. */
export const DEFAULT_SEED_OPTIONS: SeedOptions = Object.freeze({ seed: 1, size: 200 });

/** The day the seeded world is "now": contribution and tax periods end in the month before. */
export const SEED_REFERENCE_DATE = '2026-10-31';
const REFERENCE_YEAR = 2026;
const REFERENCE_MONTH = 10;

interface Region {
  city: string;
  district: string;
  code: string;
  streets: readonly string[];
}

const REGIONS: readonly Region[] = [
  { city: '济南', district: '历下区', code: '370102', streets: ['泉城路', '解放路', '文化东路', '历山路'] },
  { city: '济南', district: '市中区', code: '370103', streets: ['经四路', '纬二路', '英雄山路'] },
  { city: '菏泽', district: '牡丹区', code: '371702', streets: ['中华路', '人民路', '长江路', '牡丹路'] },
  { city: '菏泽', district: '曹县', code: '371721', streets: ['青菏路', '磐石路', '普连集路'] },
  { city: '泰安', district: '泰山区', code: '370902', streets: ['东岳大街', '财源大街', '泰山大街'] },
  { city: '临沂', district: '兰山区', code: '371302', streets: ['沂蒙路', '通达路', '解放路'] },
  { city: '聊城', district: '东昌府区', code: '371502', streets: ['东昌路', '柳园路', '兴华路'] },
  { city: '济宁', district: '任城区', code: '370811', streets: ['太白楼路', '共青团路', '建设路'] },
  { city: '潍坊', district: '奎文区', code: '370705', streets: ['胜利街', '东风街', '北海路'] },
];

/** The districts of each city of `SEED_CITIES` (the two that `REGIONS` has are the same entries). */
const CITY_REGIONS: Readonly<Record<SeedCity, readonly Region[]>> = {
  taian: [
    REGIONS[4]!,
    { city: '泰安', district: '岱岳区', code: '370911', streets: ['长城路', '擂鼓石大街', '迎胜路'] },
    { city: '泰安', district: '新泰市', code: '370982', streets: ['青云路', '府前大街', '金斗路'] },
    { city: '泰安', district: '肥城市', code: '370983', streets: ['龙山路', '新城路', '泰西大街'] },
  ],
  heze: [
    REGIONS[2]!,
    REGIONS[3]!,
    { city: '菏泽', district: '定陶区', code: '371703', streets: ['兴华路', '陶驿路', '康宁路'] },
    { city: '菏泽', district: '单县', code: '371722', streets: ['舜师路', '胜利路', '湖西路'] },
  ],
};
/** Every region by its code (the Shandong-wide ones first). */
const REGION_BY_CODE: ReadonlyMap<string, Region> = new Map([...REGIONS, ...Object.values(CITY_REGIONS).flat()].map((g) => [g.code, g]));
/** The first two digits of a city's court case numbers (执行案号 鲁17xx执… for Heze's courts). */
const COURT_CODE: Readonly<Record<SeedCity, number>> = { taian: 9, heze: 17 };

const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤';
const GIVEN = '伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国志强海燕春梅文博宇浩然欣怡子涵晨阳佳琪思远雨萱俊杰';
const BANKS = ['中国工商银行', '中国农业银行', '中国银行', '中国建设银行', '交通银行', '齐鲁银行', '山东农商银行'];
const INDUSTRIES: readonly { name: string; word: string }[] = [
  { name: '批发和零售业', word: '商贸' },
  { name: '制造业', word: '机械制造' },
  { name: '建筑业', word: '建筑工程' },
  { name: '农、林、牧、渔业', word: '农业科技' },
  { name: '信息传输、软件和信息技术服务业', word: '信息技术' },
  { name: '住宿和餐饮业', word: '餐饮管理' },
  { name: '交通运输、仓储和邮政业', word: '物流' },
  { name: '租赁和商务服务业', word: '商务咨询' },
];
const BRAND = '华鲁泰和信达恒通宏远鑫源金盛瑞丰齐惠德润嘉禾兴旺';
const PERMIT_KINDS = ['食品经营许可证', '道路运输经营许可证', '建筑业企业资质证书', '危险化学品经营许可证', '医疗器械经营许可证'];
const PENALTY_REASONS = ['未按规定公示年度报告', '销售不合格产品', '虚假宣传', '无照经营', '未按规定明码标价'];
const ABNORMAL_REASONS = ['未按照规定期限公示年度报告', '通过登记的住所或者经营场所无法联系', '公示企业信息隐瞒真实情况、弄虚作假'];
const COURTS = ['人民法院'];
const CREDIT_CODE_CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** A small, fast, seedable PRNG (mulberry32). */
function createRandom(seed: number) {
  let state = seed >>> 0 || 0x2545f491;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p: number): boolean => next() < p,
    pick<T>(items: readonly T[]): T {
      return items[Math.floor(next() * items.length)]!;
    },
    /** One character of a string. */
    char(chars: string): string {
      return chars[Math.floor(next() * chars.length)]!;
    },
  };
}
type Random = ReturnType<typeof createRandom>;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const round2 = (n: number): number => Math.round(n * 100) / 100;
const isoDate = (y: number, m: number, d: number): string => `${y}-${pad(m, 2)}-${pad(d, 2)}`;

function randomDate(r: Random, fromYear: number, toYear: number): string {
  const y = r.int(fromYear, toYear);
  const maxMonth = y === REFERENCE_YEAR ? REFERENCE_MONTH : 12;
  return isoDate(y, r.int(1, maxMonth), r.int(1, 28));
}

/** The `count` months before the reference month, newest first, as YYYY-MM. */
function recentPeriods(count: number): string[] {
  const periods: string[] = [];
  let y = REFERENCE_YEAR;
  let m = REFERENCE_MONTH - 1;
  for (let i = 0; i < count; i++) {
    if (m === 0) {
      m = 12;
      y--;
    }
    periods.push(`${y}-${pad(m, 2)}`);
    m--;
  }
  return periods;
}

/** Generates the whole seeded world. 100 000 persons take a few seconds. */
export function generateSeed(options: SeedOptions = DEFAULT_SEED_OPTIONS): SeedData {
  const { seed, size, city, crossCity } = options;
  if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, but got: ${seed}`);
  if (!Number.isInteger(size) || size < 10 || size > 2_000_000) throw new TypeError(`size must be an integer from 10 to 2000000, but got: ${size}`);
  if (city !== undefined && !SEED_CITIES.includes(city)) throw new TypeError(`city must be one of ${SEED_CITIES.join(', ')}, but got: ${String(city)}`);
  if (crossCity !== undefined) checkCrossCity(crossCity, city);
  // The seed's regions: one city's districts, or Shandong's (the default seed, drawn exactly as before cities existed).
  const regions = city ? CITY_REGIONS[city] : REGIONS;
  const regionOf = (code: string): Region | undefined => REGION_BY_CODE.get(code);
  const r = createRandom(seed * 7919 + size);

  // Persons, in households sharing an address.
  const persons: SeedPerson[] = [];
  const householdOf: number[][] = [];
  const usedIds = new Set<string>();
  while (persons.length < size) {
    const region = r.pick(regions);
    const address = `山东省${region.city}市${region.district}${r.pick(region.streets)}${r.int(1, 999)}号${r.int(1, 30)}单元${r.int(101, 2602)}室`;
    const householdId = `H${pad(householdOf.length + 1, 7)}`;
    const members = Math.min(r.int(1, 5), size - persons.length);
    const surname = r.char(SURNAMES);
    const headYear = r.int(1950, 1995);
    const household: number[] = [];
    for (let i = 0; i < members; i++) {
      // head, spouse, then children
      const year = i === 0 ? headYear : i === 1 ? headYear + r.int(-4, 4) : Math.min(headYear + r.int(22, 35), 2024);
      const male = i === 0 ? r.chance(0.5) : i === 1 ? persons[persons.length - 1]!.gender === 'FEMALE' : r.chance(0.5);
      const birth = isoDate(year, r.int(1, 12), r.int(1, 28));
      let idNumber: string;
      do {
        let seq = r.int(0, 999);
        if ((seq % 2 === 1) !== male) seq = (seq + 1) % 1000;
        const first17 = region.code + birth.replace(/-/g, '') + pad(seq, 3);
        idNumber = first17 + citizenIdCheckChar(first17);
      } while (usedIds.has(idNumber));
      usedIds.add(idNumber);
      const familySurname = i === 1 ? r.char(SURNAMES) : surname;
      const name = familySurname + r.char(GIVEN) + (r.chance(0.6) ? r.char(GIVEN) : '');
      household.push(persons.length);
      persons.push({
        idNumber,
        name,
        gender: male ? 'MALE' : 'FEMALE',
        birthDate: birth,
        address,
        phone: `1${r.char('3456789')}${pad(r.int(0, 999_999_999), 9)}`,
        householdId,
      });
    }
    householdOf.push(household);
  }
  const ageOf = (p: SeedPerson): number => REFERENCE_YEAR - Number(p.birthDate.slice(0, 4));
  const adults = persons.filter((p) => ageOf(p) >= 22 && ageOf(p) <= 70);

  // Enterprises: legal representatives are seeded adults.
  const enterprises: SeedEnterprise[] = [];
  const enterpriseEvents: SeedEnterpriseEvent[] = [];
  const usedCodes = new Set<string>();
  const enterpriseCount = Math.max(5, Math.floor(size / 8));
  for (let i = 0; i < enterpriseCount; i++) {
    const rep = r.pick(adults.length > 0 ? adults : persons);
    const region = regionOf(rep.idNumber.slice(0, 6)) ?? r.pick(regions);
    let creditCode: string;
    do {
      let org = '';
      for (let k = 0; k < 8; k++) org += r.char(k < 2 ? '0123456789ABCDEFGHJKLMNPQRTUWXY' : '0123456789');
      const body = '91' + region.code + org + orgCodeCheckChar(org);
      creditCode = body + creditCodeCheckChar(body);
    } while (usedCodes.has(creditCode) || !CREDIT_CODE_CHARSET.includes(creditCode[16]!));
    usedCodes.add(creditCode);
    const industry = r.pick(INDUSTRIES);
    const kind: EnterpriseKind = r.pick(['LIMITED_LIABILITY', 'LIMITED_LIABILITY', 'LIMITED_LIABILITY', 'JOINT_STOCK', 'SOLE_PROPRIETORSHIP', 'PARTNERSHIP', 'INDIVIDUAL_BUSINESS'] as const);
    const roll = r.next();
    const status: EnterpriseStatus = roll < 0.85 ? 'ACTIVE' : roll < 0.92 ? 'ABNORMAL' : roll < 0.96 ? 'REVOKED' : 'CANCELLED';
    const establishedAt = randomDate(r, 2000, 2025);
    const estYear = Number(establishedAt.slice(0, 4));
    const suffix = kind === 'JOINT_STOCK' ? '股份有限公司' : kind === 'PARTNERSHIP' ? '(有限合伙)' : kind === 'INDIVIDUAL_BUSINESS' ? '经营部' : '有限公司';
    const authority = `${region.city}市${region.district}市场监督管理局`;
    const enterprise: SeedEnterprise = {
      creditCode,
      name: `${region.city}${r.char(BRAND)}${r.char(BRAND)}${industry.word}${suffix}`,
      kind,
      status,
      legalRepIdNumber: rep.idNumber,
      registeredCapital: r.int(1, 500) * 10_000,
      establishedAt,
      address: `山东省${region.city}市${region.district}${r.pick(region.streets)}${r.int(1, 999)}号`,
      industry: industry.name,
      licence: {
        licenceNumber: creditCode,
        issuedAt: establishedAt,
        validUntil: r.chance(0.7) ? null : isoDate(estYear + 30, 12, 31),
        scope: `${industry.name}相关业务(依法须经批准的项目,经相关部门批准后方可开展经营活动)`,
        authority,
      },
      permits: [],
      penalties: [],
      abnormalOperations: [],
    };
    for (let k = r.int(0, 2); k > 0; k--) {
      const issuedAt = randomDate(r, Math.max(estYear, 2015), 2025);
      enterprise.permits.push({
        permitNumber: `${r.pick(['JY', 'LY', 'JZ', 'WH', 'YX'])}${region.code}${pad(r.int(0, 99_999_999), 8)}`,
        kind: r.pick(PERMIT_KINDS),
        issuedAt,
        validUntil: isoDate(Number(issuedAt.slice(0, 4)) + 5, Number(issuedAt.slice(5, 7)), Number(issuedAt.slice(8, 10))),
        authority: `${region.city}市行政审批服务局`,
      });
    }
    for (let k = status === 'ACTIVE' ? (r.chance(0.1) ? 1 : 0) : r.int(1, 2); k > 0; k--) {
      const decidedAt = randomDate(r, Math.max(estYear, 2018), 2026);
      enterprise.penalties.push({
        decisionNumber: `${region.city.slice(0, 1)}市监罚〔${decidedAt.slice(0, 4)}〕${r.int(1, 999)}号`,
        reason: r.pick(PENALTY_REASONS),
        amount: r.int(1, 200) * 500,
        decidedAt,
        authority,
      });
    }
    if (status === 'ABNORMAL' || r.chance(0.03)) {
      const listedAt = randomDate(r, Math.max(estYear + 1, 2019), 2026);
      enterprise.abnormalOperations.push({
        reason: r.pick(ABNORMAL_REASONS),
        listedAt,
        removedAt: status === 'ABNORMAL' ? null : isoDate(Math.min(Number(listedAt.slice(0, 4)) + 1, REFERENCE_YEAR), 6, 30),
        authority,
      });
    }
    enterprises.push(enterprise);
  }
  const byEstablished = [...enterprises].sort((a, b) => a.establishedAt.localeCompare(b.establishedAt) || a.creditCode.localeCompare(b.creditCode));
  for (const e of byEstablished) {
    enterpriseEvents.push({ seq: 0, kind: 'REGISTERED', creditCode: e.creditCode, status: 'ACTIVE', at: `${e.establishedAt}T09:00:00+08:00` });
  }
  for (const e of byEstablished) {
    if (e.status !== 'ACTIVE') {
      const at = e.abnormalOperations[0]?.listedAt ?? isoDate(Math.max(Number(e.establishedAt.slice(0, 4)) + 1, 2020), 3, 15);
      enterpriseEvents.push({ seq: 0, kind: 'STATUS_CHANGED', creditCode: e.creditCode, status: e.status, at: `${at}T10:00:00+08:00` });
    }
  }
  enterpriseEvents.sort((a, b) => a.at.localeCompare(b.at));
  enterpriseEvents.forEach((ev, i) => (ev.seq = i + 1));

  // Social security: every person is insured; working-age adults mostly with an employer.
  const liveEmployers = enterprises.filter((e) => e.status === 'ACTIVE' || e.status === 'ABNORMAL');
  const periods = recentPeriods(6);
  const insured: SeedInsured[] = [];
  const salaryOf = new Map<string, number>();
  for (const p of persons) {
    const age = ageOf(p);
    const employed = age >= 20 && age < 60 && liveEmployers.length > 0 && r.chance(0.65);
    const employer = employed ? r.pick(liveEmployers) : null;
    const base = employed ? r.int(40, 250) * 100 : 0;
    if (employed) salaryOf.set(p.idNumber, base);
    const contributions: SeedInsured['contributions'] = [];
    if (employer) {
      for (const period of periods) {
        contributions.push({ period, insuranceType: 'PENSION', base, amount: round2(base * 0.08), employerCreditCode: employer.creditCode });
        contributions.push({ period, insuranceType: 'MEDICAL', base, amount: round2(base * 0.02), employerCreditCode: employer.creditCode });
      }
    } else if (age >= 16) {
      const types: InsuranceType[] = ['PENSION', 'MEDICAL'];
      for (const insuranceType of types) {
        contributions.push({ period: `${REFERENCE_YEAR}-01`, insuranceType, base: 0, amount: insuranceType === 'PENSION' ? r.int(2, 20) * 100 : 380, employerCreditCode: null });
      }
    }
    insured.push({
      idNumber: p.idNumber,
      name: p.name,
      scheme: employer ? 'EMPLOYEE' : 'RESIDENT',
      status: age >= 60 ? 'RETIRED' : employer || r.chance(0.8) ? 'ACTIVE' : 'SUSPENDED',
      employerCreditCode: employer?.creditCode ?? null,
      insuredSince: randomDate(r, Math.max(Number(p.birthDate.slice(0, 4)) + 18, 1995), 2025),
      contributions,
    });
  }
  const employeeCount = new Map<string, number>();
  for (const i of insured) if (i.employerCreditCode) employeeCount.set(i.employerCreditCode, (employeeCount.get(i.employerCreditCode) ?? 0) + 1);
  const employerAccounts: SeedEmployerAccount[] = [];
  for (const e of enterprises) {
    const count = employeeCount.get(e.creditCode) ?? 0;
    if (count === 0 && !r.chance(0.5)) continue;
    employerAccounts.push({
      creditCode: e.creditCode,
      accountNumber: `SB${e.creditCode.slice(2, 8)}${pad(employerAccounts.length + 1, 8)}`,
      status: e.status === 'ACTIVE' ? 'ACTIVE' : e.status === 'ABNORMAL' ? 'SUSPENDED' : 'CLOSED',
      openedAt: e.establishedAt,
      employeeCount: count,
      arrears: r.chance(0.05) ? r.int(1, 500) * 100 : 0,
    });
  }

  // Real estate: households and some enterprises own units; transfers and deed tax follow.
  const properties: SeedProperty[] = [];
  const usedUnits = new Set<string>();
  const deedTax: { payerKind: OwnerKind; payerId: string; unitNumber: string; amount: number; paidAt: string }[] = [];
  const newUnit = (regionCode: string): string => {
    let unit: string;
    do {
      unit = `${regionCode}${pad(r.int(1, 20), 3)}${pad(r.int(1, 30), 3)}GB${pad(r.int(1, 99_999), 5)}F${pad(r.int(1, 9999), 4)}${pad(r.int(1, 9999), 4)}`;
    } while (usedUnits.has(unit));
    usedUnits.add(unit);
    return unit;
  };
  const addProperty = (owners: SeedProperty['owners'], usage: PropertyUsage, regionCode: string, street: string): void => {
    const region = regionOf(regionCode) ?? regions[0]!;
    const unitNumber = newUnit(region.code);
    const area = round2(usage === 'RESIDENTIAL' ? 50 + r.next() * 150 : 80 + r.next() * 2000);
    const price = Math.round(area * r.int(5000, 16000));
    const firstAt = randomDate(r, 2005, 2024);
    const transfers: SeedProperty['transfers'] = [];
    let acquiredAt = firstAt;
    if (r.chance(0.4)) {
      // The current owners bought it from someone else.
      acquiredAt = randomDate(r, Number(firstAt.slice(0, 4)) + 1, 2026);
      const seller = r.chance(0.8) ? ({ kind: 'PERSON', id: r.pick(adults.length > 0 ? adults : persons).idNumber } as const) : ({ kind: 'ENTERPRISE', id: r.pick(enterprises).creditCode } as const);
      transfers.push({
        transferNumber: `ZY${unitNumber.slice(0, 6)}${acquiredAt.slice(0, 4)}${pad(r.int(0, 999_999), 6)}`,
        fromKind: seller.kind,
        fromId: seller.id,
        toKind: owners[0]!.kind,
        toId: owners[0]!.ownerId,
        date: acquiredAt,
        price,
      });
    }
    const year = acquiredAt.slice(0, 4);
    const property: SeedProperty = {
      unitNumber,
      certificateNumber: `鲁(${year})${region.city}市不动产权第${pad(r.int(1, 9_999_999), 7)}号`,
      address: `山东省${region.city}市${region.district}${street}${r.int(1, 999)}号${usage === 'RESIDENTIAL' ? `${r.int(1, 30)}单元${r.int(101, 2602)}室` : ''}`,
      area,
      usage,
      registeredAt: acquiredAt,
      owners,
      mortgages: [],
      seizures: [],
      transfers,
    };
    if (r.chance(0.3)) {
      const startYear = Number(acquiredAt.slice(0, 4));
      const active = startYear + 20 > REFERENCE_YEAR || r.chance(0.7);
      property.mortgages.push({
        registrationNumber: `DY${unitNumber.slice(0, 6)}${year}${pad(r.int(0, 999_999), 6)}`,
        mortgagee: `${r.pick(BANKS)}${region.city}分行`,
        amount: Math.round(price * (0.3 + r.next() * 0.4)),
        startDate: acquiredAt,
        endDate: isoDate(startYear + r.int(10, 30), Number(acquiredAt.slice(5, 7)), Number(acquiredAt.slice(8, 10))),
        status: active ? 'ACTIVE' : 'RELEASED',
      });
    }
    if (r.chance(0.03)) {
      const startDate = randomDate(r, 2023, 2026);
      property.seizures.push({
        seizureNumber: `CF${unitNumber.slice(0, 6)}${startDate.slice(0, 4)}${pad(r.int(0, 99_999), 5)}`,
        court: `${region.city}市${region.district}${r.pick(COURTS)}`,
        caseNumber: `(${startDate.slice(0, 4)})鲁${pad(r.int(1700, 1799) + (city ? (COURT_CODE[city] - 17) * 100 : 0), 4)}执${r.int(1, 9999)}号`,
        startDate,
        endDate: isoDate(Number(startDate.slice(0, 4)) + 3, Number(startDate.slice(5, 7)), Number(startDate.slice(8, 10))),
        status: 'ACTIVE',
      });
    }
    for (const owner of owners) {
      // Deed tax 契税: 1.5 % of the owner's part, paid on acquisition by every owner.
      deedTax.push({ payerKind: owner.kind, payerId: owner.ownerId, unitNumber, amount: round2((price * owner.share) / 100 * 0.015), paidAt: acquiredAt });
    }
    properties.push(property);
  };
  for (const household of householdOf) {
    const members = household.map((i) => persons[i]!).filter((p) => ageOf(p) >= 22);
    const head = members[0];
    if (!head || !r.chance(0.7)) continue;
    const region = head.idNumber.slice(0, 6);
    const street = r.pick(regionOf(region)?.streets ?? ['人民路']);
    for (let n = r.chance(0.25) ? 2 : 1; n > 0; n--) {
      const spouse = members[1];
      let owners: SeedProperty['owners'];
      if (!spouse || r.chance(0.5)) owners = [{ kind: 'PERSON', ownerId: head.idNumber, share: 100, ownership: 'SOLE' }];
      else if (r.chance(0.6)) {
        owners = [
          { kind: 'PERSON', ownerId: head.idNumber, share: 50, ownership: 'JOINT' },
          { kind: 'PERSON', ownerId: spouse.idNumber, share: 50, ownership: 'JOINT' },
        ];
      } else {
        owners = [
          { kind: 'PERSON', ownerId: head.idNumber, share: 60, ownership: 'SHARED' },
          { kind: 'PERSON', ownerId: spouse.idNumber, share: 40, ownership: 'SHARED' },
        ];
      }
      addProperty(owners, 'RESIDENTIAL', region, street);
    }
  }
  for (const e of enterprises) {
    if (!r.chance(0.4)) continue;
    const region = e.creditCode.slice(2, 8);
    const street = r.pick(regionOf(region)?.streets ?? ['人民路']);
    for (let n = r.int(1, 2); n > 0; n--) {
      addProperty([{ kind: 'ENTERPRISE', ownerId: e.creditCode, share: 100, ownership: 'SOLE' }], r.pick(['COMMERCIAL', 'INDUSTRIAL', 'OFFICE'] as const), region, street);
    }
  }

  // Tax: every enterprise, every employee, every property owner and every legal representative.
  const taxpayers: SeedTaxpayer[] = [];
  const taxpayerIndex = new Map<string, SeedTaxpayer>();
  const taxOffice = (regionCode: string): string => {
    const region = regionOf(regionCode) ?? regions[0]!;
    return `国家税务总局${region.city}市${region.district}税务局`;
  };
  let voucher = 0;
  const nextVoucher = (paidAt: string): string => `${paidAt.replace(/-/g, '').slice(0, 6)}${pad(++voucher, 10)}`;
  const taxpayerFor = (kind: OwnerKind, id: string, name: string, registeredAt: string, rating: CreditRating | null): SeedTaxpayer => {
    let t = taxpayerIndex.get(id);
    if (!t) {
      t = { taxpayerId: id, kind, name, taxOffice: taxOffice(kind === 'PERSON' ? id.slice(0, 6) : id.slice(2, 8)), registeredAt, creditRating: rating, payments: [], arrears: [] };
      taxpayerIndex.set(id, t);
      taxpayers.push(t);
    }
    return t;
  };
  const personById = new Map(persons.map((p) => [p.idNumber, p]));
  const insuredById = new Map(insured.map((i) => [i.idNumber, i]));
  const enterpriseByCode = new Map(enterprises.map((e) => [e.creditCode, e]));
  for (const e of enterprises) {
    const rating: CreditRating = e.status === 'ACTIVE' ? r.pick(['A', 'A', 'B', 'B', 'B', 'M'] as const) : r.pick(['C', 'D'] as const);
    const t = taxpayerFor('ENTERPRISE', e.creditCode, e.name, e.establishedAt, rating);
    if (e.status === 'ACTIVE' || e.status === 'ABNORMAL') {
      for (let q = 0; q < 4; q++) {
        const period = recentPeriods(12)[q * 3]!;
        const paidAt = `${period}-15`;
        t.payments.push({ voucherNumber: nextVoucher(paidAt), taxType: 'VALUE_ADDED', amount: r.int(10, 5000) * 10, period, paidAt, unitNumber: null });
      }
      const year = REFERENCE_YEAR - 1;
      t.payments.push({ voucherNumber: nextVoucher(`${REFERENCE_YEAR}-05-31`), taxType: 'CORPORATE_INCOME', amount: r.int(10, 9000) * 100, period: `${year}-12`, paidAt: `${REFERENCE_YEAR}-05-31`, unitNumber: null });
    }
    if (e.status !== 'ACTIVE' ? r.chance(0.4) : r.chance(0.05)) {
      t.arrears.push({ taxType: r.pick(['VALUE_ADDED', 'CORPORATE_INCOME'] as const), amount: r.int(1, 2000) * 100, since: randomDate(r, 2024, 2026) });
    }
  }
  for (const p of persons) {
    const salary = salaryOf.get(p.idNumber);
    if (salary === undefined) continue;
    const t = taxpayerFor('PERSON', p.idNumber, p.name, insuredById.get(p.idNumber)?.insuredSince ?? '2010-01-01', null);
    for (const period of periods) {
      const taxable = salary * 0.88 - 5000;
      if (taxable <= 0) continue;
      const paidAt = `${period}-15`;
      t.payments.push({ voucherNumber: nextVoucher(paidAt), taxType: 'INDIVIDUAL_INCOME', amount: round2(taxable * (taxable > 3000 ? 0.1 : 0.03)), period, paidAt, unitNumber: null });
    }
    if (r.chance(0.02)) t.arrears.push({ taxType: 'INDIVIDUAL_INCOME', amount: r.int(1, 100) * 50, since: randomDate(r, 2025, 2026) });
  }
  for (const d of deedTax) {
    const name = d.payerKind === 'PERSON' ? personById.get(d.payerId)!.name : enterpriseByCode.get(d.payerId)!.name;
    const t = taxpayerFor(d.payerKind, d.payerId, name, d.paidAt, null);
    t.payments.push({ voucherNumber: nextVoucher(d.paidAt), taxType: 'DEED', amount: d.amount, period: d.paidAt.slice(0, 7), paidAt: d.paidAt, unitNumber: d.unitNumber });
    if (d.payerKind === 'PERSON' && r.chance(0.5)) {
      const period = recentPeriods(12)[r.int(0, 11)]!;
      t.payments.push({ voucherNumber: nextVoucher(`${period}-20`), taxType: 'PROPERTY', amount: r.int(2, 60) * 10, period, paidAt: `${period}-20`, unitNumber: null });
    }
  }
  for (const e of enterprises) {
    const rep = personById.get(e.legalRepIdNumber)!;
    taxpayerFor('PERSON', rep.idNumber, rep.name, e.establishedAt, null);
  }
  const taxTypeOrder: Record<TaxType, number> = { INDIVIDUAL_INCOME: 0, DEED: 1, VALUE_ADDED: 2, CORPORATE_INCOME: 3, PROPERTY: 4 };
  for (const t of taxpayers) {
    t.payments.sort((a, b) => b.paidAt.localeCompare(a.paidAt) || taxTypeOrder[a.taxType] - taxTypeOrder[b.taxType] || a.voucherNumber.localeCompare(b.voucherNumber));
  }

  const world = { seed, size, persons, enterprises, enterpriseEvents, properties, insured, employerAccounts, taxpayers };
  const data: SeedData = { ...world, ...generateHousingFund(world) };
  if (city) data.city = city;
  if (crossCity) data.crossCityUnits = addCrossCityUnits(data, regions, crossCity);
  return data;
}

/** Refuses cross-city options that cannot give owners from another city, naming the problem. */
function checkCrossCity(crossCity: CrossCityOptions, city: SeedCity | undefined): void {
  const { from, sellers } = crossCity as Partial<CrossCityOptions>;
  if (!from || !Array.isArray(from.persons) || !Array.isArray(from.taxpayers)) throw new TypeError('crossCity.from must be the seed of another city (generateSeed({ city, … }))');
  if (!from.city) throw new TypeError('crossCity.from must be a seed made for one city (generateSeed({ city, … })), but it has persons all over Shandong');
  if (from.city === city) throw new TypeError(`crossCity.from must be another city's seed, but both are ${city}'s`);
  if (!Number.isInteger(sellers) || sellers! < 1 || sellers! > 100) throw new TypeError(`crossCity.sellers must be an integer from 1 to 100, but got: ${String(sellers)}`);
}

/**
 * Units of this city owned, each alone, by a person of the other city's seed: adults that seed
 * knows as taxpayers, picked from a random stream of their own (derived from this seed's seed and
 * size), so the rest of the seed is the same with or without them. The owners are not persons of
 * this seed: this city's tax and social-security departments know nothing of them (no deed tax
 * here either: the one exception to every person-owner's deed-tax payment).
 */
function addCrossCityUnits(data: SeedData, regions: readonly Region[], crossCity: CrossCityOptions): string[] {
  const r = createRandom(Math.imul(data.seed * 7919 + data.size, 0x85ebca6b) ^ 0x58435459);
  const taxpayerIds = new Set(crossCity.from.taxpayers.filter((t) => t.kind === 'PERSON').map((t) => t.taxpayerId));
  const here = new Set(data.persons.map((p) => p.idNumber));
  const candidates = crossCity.from.persons.filter((p) => {
    const age = REFERENCE_YEAR - Number(p.birthDate.slice(0, 4));
    return age >= 22 && age <= 70 && taxpayerIds.has(p.idNumber) && !here.has(p.idNumber);
  });
  if (candidates.length < crossCity.sellers) throw new TypeError(`crossCity.sellers is ${crossCity.sellers}, but the other city's seed has only ${candidates.length} adult taxpayers to own a unit here`);
  const usedUnits = new Set(data.properties.map((p) => p.unitNumber));
  const units: string[] = [];
  const chosen = new Set<number>();
  while (units.length < crossCity.sellers) {
    const index = r.int(0, candidates.length - 1);
    if (chosen.has(index)) continue;
    chosen.add(index);
    const seller = candidates[index]!;
    const region = r.pick(regions);
    let unitNumber: string;
    do {
      unitNumber = `${region.code}${pad(r.int(1, 20), 3)}${pad(r.int(1, 30), 3)}GB${pad(r.int(1, 99_999), 5)}F${pad(r.int(1, 9999), 4)}${pad(r.int(1, 9999), 4)}`;
    } while (usedUnits.has(unitNumber));
    usedUnits.add(unitNumber);
    const registeredAt = randomDate(r, 2008, 2022);
    data.properties.push({
      unitNumber,
      certificateNumber: `鲁(${registeredAt.slice(0, 4)})${region.city}市不动产权第${pad(r.int(1, 9_999_999), 7)}号`,
      address: `山东省${region.city}市${region.district}${r.pick(region.streets)}${r.int(1, 999)}号${r.int(1, 30)}单元${r.int(101, 2602)}室`,
      area: round2(50 + r.next() * 150),
      usage: 'RESIDENTIAL',
      registeredAt,
      owners: [{ kind: 'PERSON', ownerId: seller.idNumber, share: 100, ownership: 'SOLE' }],
      mortgages: [],
      seizures: [],
      transfers: [],
    });
    units.push(unitNumber);
  }
  return units;
}

/** How many monthly contributions a fund account shows: the last three years. */
const FUND_CONTRIBUTION_MONTHS = 36;
/** Months since year 0 of a `YYYY-MM…` date or period, so that month arithmetic is integer arithmetic. */
const monthIndex = (date: string): number => Number(date.slice(0, 4)) * 12 + Number(date.slice(5, 7)) - 1;
const periodOf = (index: number): string => `${Math.floor(index / 12)}-${pad((index % 12) + 1, 2)}`;
/** The newest contribution period: the month before the reference month. */
const LAST_PERIOD = REFERENCE_YEAR * 12 + REFERENCE_MONTH - 2;

/**
 * The housing provident fund 住房公积金 part of the seed, from the rest of it. It draws from its
 * own random stream, derived from (seed, size) but never from the main one, so the rest of the
 * seed is the same whether or not this part is made.
 *
 * - Most live employers with a social-security account have a fund account too: NORMAL (a few
 *   in arrears), SUSPENDED for enterprises listed as abnormal (several months unpaid), CLOSED for
 *   some revoked or cancelled ones. Each employer has one rate, paid by it and by the employee.
 * - Most employees have a NORMAL account paid through their social-security employer, on a base
 *   near their social-security base; a few unemployed adults have a SEALED account 封存 or pay
 *   their own 灵活就业; a few retired persons have a CLOSED account, paid out at retirement.
 * - Contributions stop at the employer's last paid period, the sealing or the retirement.
 * - Loans: some owners of a home have a fund loan on it (by unit number); a few loans are for a
 *   home outside the registry (no property).
 */
function generateHousingFund(world: Omit<SeedData, 'fundAccounts' | 'fundEmployers'>): Pick<SeedData, 'fundAccounts' | 'fundEmployers'> {
  const r = createRandom(Math.imul(world.seed * 7919 + world.size, 0x9e3779b1) ^ 0x46554e44);
  const oldestPeriod = LAST_PERIOD - FUND_CONTRIBUTION_MONTHS + 1;
  // Period and payment-day strings are shared by every account that paid that month.
  const periods: string[] = [];
  for (let t = LAST_PERIOD; t >= oldestPeriod; t--) periods.push(periodOf(t));
  const paidAtCache = new Map<number, string>();
  const paidAt = (t: number, day: number): string => {
    const key = t * 32 + day;
    let s = paidAtCache.get(key);
    if (s === undefined) paidAtCache.set(key, (s = `${periodOf(t)}-${pad(day, 2)}`));
    return s;
  };
  const dateIn = (t: number): string => `${periodOf(t)}-${pad(r.int(1, 28), 2)}`;

  // Employers.
  interface EmployerState {
    row: SeedFundEmployer;
    /** The month index of the last paid period, or -1 when it never paid. */
    lastPaid: number;
    opened: number;
    /** Employer and employee rate, each (5 % to 12 %). */
    rate: number;
    payday: number;
  }
  const enterpriseByCode = new Map(world.enterprises.map((e) => [e.creditCode, e]));
  const employers = new Map<string, EmployerState>();
  const fundEmployers: SeedFundEmployer[] = [];
  for (const account of world.employerAccounts) {
    const enterprise = enterpriseByCode.get(account.creditCode);
    if (!enterprise) continue;
    const status: SeedFundEmployer['status'] | undefined =
      account.status === 'ACTIVE' ? (r.chance(0.9) ? 'NORMAL' : undefined) : account.status === 'SUSPENDED' ? (r.chance(0.7) ? 'SUSPENDED' : undefined) : r.chance(0.3) ? 'CLOSED' : undefined;
    if (!status) continue;
    const established = monthIndex(enterprise.establishedAt);
    const opened = Math.min(established + r.int(0, 24), LAST_PERIOD - 2);
    let lastPaid: number;
    if (status === 'CLOSED') lastPaid = r.chance(0.3) || opened > LAST_PERIOD - 12 ? -1 : r.int(opened, LAST_PERIOD - 12);
    else lastPaid = Math.max(opened, LAST_PERIOD - (status === 'SUSPENDED' ? r.int(3, 12) : r.chance(0.06) ? r.int(1, 6) : 0));
    const row: SeedFundEmployer = {
      employerAccountNumber: `${account.creditCode.slice(2, 8)}${pad(fundEmployers.length + 1, 8)}`,
      creditCode: account.creditCode,
      status,
      openedAt: opened === established ? enterprise.establishedAt : dateIn(opened),
      employees: 0,
      arrearsMonths: status === 'CLOSED' ? 0 : LAST_PERIOD - lastPaid,
      lastPaidPeriod: lastPaid < 0 ? null : periodOf(lastPaid),
    };
    fundEmployers.push(row);
    employers.set(account.creditCode, { row, lastPaid, opened, rate: r.int(5, 12) / 100, payday: r.int(5, 25) });
  }

  // Homes owned by each person, for loans and purchase withdrawals.
  const homesOf = new Map<string, SeedProperty[]>();
  for (const property of world.properties) {
    for (const owner of property.owners) {
      if (owner.kind !== 'PERSON') continue;
      const homes = homesOf.get(owner.ownerId);
      if (homes) homes.push(property);
      else homesOf.set(owner.ownerId, [property]);
    }
  }
  const insuredById = new Map(world.insured.map((i) => [i.idNumber, i]));

  const fundAccounts: SeedFundAccount[] = [];
  let loanSerial = 0;
  const referenceIndex = LAST_PERIOD + 1;
  for (const person of world.persons) {
    const insured = insuredById.get(person.idNumber);
    const birthYear = Number(person.birthDate.slice(0, 4));
    const age = REFERENCE_YEAR - birthYear;
    const adultFrom = monthIndex(person.birthDate) + 18 * 12;
    const employer = insured?.employerCreditCode ? employers.get(insured.employerCreditCode) : undefined;
    let status: SeedFundAccount['status'];
    let employerState: EmployerState | undefined;
    let opened: number;
    /** Month index of the last month paid into the account (-1: none). */
    let paidUntil: number;
    let rate: number;
    let base: number;
    let payday: number;
    if (employer && employer.row.status !== 'CLOSED' && r.chance(0.9)) {
      status = 'NORMAL';
      employerState = employer;
      const from = Math.max(employer.opened, adultFrom, insured ? monthIndex(insured.insuredSince) : 0);
      // Most accounts are years old; some were opened lately.
      opened = Math.min(from + Math.floor(Math.max(0, LAST_PERIOD - from) * r.next() ** 2), LAST_PERIOD);
      paidUntil = employer.lastPaid;
      rate = employer.rate * 2;
      const socialBase = insured?.contributions[0]?.base ?? 4000;
      base = Math.max(2000, Math.round(socialBase * (0.9 + r.next() * 0.2)));
      payday = employer.payday;
    } else if (!insured?.employerCreditCode && age >= 22 && age < 60 && r.chance(0.08)) {
      const from = Math.max(adultFrom, 2000 * 12);
      opened = r.int(from, Math.max(from, LAST_PERIOD - 24));
      rate = r.int(5, 12) / 50;
      base = r.int(30, 150) * 100;
      payday = r.int(5, 25);
      if (r.chance(0.75)) {
        // Sealed 封存: the holder left the job; nothing has been paid in since.
        status = 'SEALED';
        paidUntil = r.int(Math.min(opened + 6, LAST_PERIOD - 1), LAST_PERIOD - 1);
      } else {
        // Self-paid 灵活就业: the holder pays both parts.
        status = 'NORMAL';
        paidUntil = LAST_PERIOD;
      }
    } else if (age >= 60 && r.chance(0.15)) {
      // Closed 销户 at retirement, the balance paid out.
      status = 'CLOSED';
      const retired = Math.min(monthIndex(person.birthDate) + 60 * 12, LAST_PERIOD);
      const from = Math.max(adultFrom + 4 * 12, 1995 * 12);
      opened = r.int(Math.min(from, retired - 60), retired - 60);
      paidUntil = retired - 1;
      rate = r.int(5, 12) / 50;
      base = r.int(30, 120) * 100;
      payday = r.int(5, 25);
    } else continue;

    const selfPaid = status === 'NORMAL' && !employerState;
    // The base is adjusted every July: earlier contribution years had a lower one.
    const growth = 1 + r.int(2, 6) / 100;
    const yearOf = (t: number): number => Math.floor((t - 6) / 12);
    const currentYear = yearOf(LAST_PERIOD);
    const contributions: SeedFundAccount['contributions'] = [];
    let paidIn = 0;
    let amountsYear = Number.NaN;
    let employerAmount = 0;
    let personalAmount = 0;
    for (let t = Math.min(paidUntil, LAST_PERIOD); t >= Math.max(opened, oldestPeriod); t--) {
      const year = yearOf(t);
      if (year !== amountsYear) {
        amountsYear = year;
        const yearBase = base / growth ** (currentYear - year);
        const half = round2((yearBase * rate) / 2);
        employerAmount = selfPaid ? 0 : half;
        personalAmount = selfPaid ? round2(half * 2) : half;
      }
      contributions.push({ period: periods[LAST_PERIOD - t]!, employerAmount, personalAmount, paidAt: paidAt(t, payday) });
      paidIn += employerAmount + personalAmount;
    }
    // What was paid in before the three years shown, at the lower bases of those years.
    const monthly = base * rate;
    const monthsBefore = Math.max(0, Math.min(paidUntil, oldestPeriod - 1) - opened + 1);
    paidIn += monthsBefore * monthly * 0.8;
    /** Roughly what the account held at a month, before withdrawals. */
    const heldAt = (t: number): number => Math.max(0, Math.min(t, paidUntil) - opened + 1) * monthly * 0.85;

    // Loans, and the withdrawals that go with them.
    const loans: SeedFundAccount['loans'] = [];
    const events: { t: number; reason: SeedFundAccount['withdrawals'][number]['reason'] }[] = [];
    const homes = homesOf.get(person.idNumber);
    // A home bought while the account was open (and, for a closed one, before it closed).
    const home = homes?.find((h) => monthIndex(h.registeredAt) >= opened + 6 && (status !== 'CLOSED' || monthIndex(h.registeredAt) <= paidUntil));
    const addLoan = (started: number, startedAt: string, unitNumber: string | null, area: number): void => {
      const termMonths = r.pick([120, 180, 240, 300, 360]);
      const amount = Math.min(600_000, Math.max(50_000, Math.round((area * r.int(3000, 8000) * 0.6) / 1000) * 1000));
      const elapsed = referenceIndex - started;
      let loanStatus: SeedFundAccount['loans'][number]['status'] = 'REPAYING';
      let outstanding = round2(amount * (1 - elapsed / termMonths));
      if (elapsed >= termMonths || status === 'CLOSED' || r.chance(0.1)) {
        loanStatus = 'SETTLED';
        outstanding = 0;
      } else if (r.chance(0.05)) loanStatus = 'OVERDUE';
      loans.push({ loanNumber: `${person.idNumber.slice(0, 6)}${startedAt.slice(0, 4)}${pad(++loanSerial, 6)}`, amount, outstanding, startedAt, termMonths, status: loanStatus, unitNumber });
      if (loanStatus !== 'SETTLED') {
        for (let k = r.int(0, 3); k > 0; k--) {
          const t = LAST_PERIOD - 12 * (k - 1) - r.int(0, 11);
          if (t >= started + 12) events.push({ t, reason: 'LOAN_REPAYMENT' });
        }
      }
    };
    if (home && r.chance(0.4)) {
      const started = monthIndex(home.registeredAt);
      addLoan(started, home.registeredAt, home.unitNumber, home.area);
      if (r.chance(0.6)) events.push({ t: started, reason: 'HOUSE_PURCHASE' });
    } else if (home && r.chance(0.3)) {
      events.push({ t: monthIndex(home.registeredAt), reason: 'HOUSE_PURCHASE' });
    } else if (!homes && r.chance(0.03) && opened + 12 <= LAST_PERIOD) {
      // A fund loan for a home elsewhere, not in this registry.
      const started = r.int(opened + 12, LAST_PERIOD);
      addLoan(started, dateIn(started), null, r.int(60, 140));
    } else if (!homes && status === 'NORMAL' && r.chance(0.2)) {
      for (let k = r.int(1, 3); k > 0; k--) {
        const t = LAST_PERIOD - 12 * (k - 1) - r.int(0, 11);
        if (t > opened) events.push({ t, reason: 'RENT' });
      }
    }
    events.sort((a, b) => a.t - b.t);
    const withdrawals: SeedFundAccount['withdrawals'] = [];
    let withdrawn = 0;
    for (const event of events) {
      const amount = round2((heldAt(event.t) - withdrawn) * (0.3 + r.next() * 0.5));
      if (amount < 100) continue;
      withdrawn += amount;
      withdrawals.push({ withdrawnAt: dateIn(event.t), amount, reason: event.reason });
    }
    let balance = round2(Math.max(0, paidIn - withdrawn));
    if (status === 'CLOSED') {
      if (balance > 0) withdrawals.push({ withdrawnAt: dateIn(paidUntil + 1), amount: balance, reason: 'RETIREMENT' });
      balance = 0;
    }
    withdrawals.sort((a, b) => b.withdrawnAt.localeCompare(a.withdrawnAt));

    fundAccounts.push({
      accountNumber: `${person.idNumber.slice(0, 6)}${pad(fundAccounts.length + 1, 10)}`,
      idNumber: person.idNumber,
      employerCreditCode: employerState?.row.creditCode ?? null,
      status,
      openedAt: dateIn(opened),
      monthlyBase: base,
      contributionRate: round2(rate),
      balance,
      contributions,
      loans,
      withdrawals,
    });
    if (employerState && status === 'NORMAL') employerState.row.employees++;
  }
  return { fundAccounts, fundEmployers };
}
