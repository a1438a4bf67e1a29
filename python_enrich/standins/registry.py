"""The synthetic EQC registry behind the sandbox: companies, search, business info and labels.

Built from the same deterministic company universe as the sample data (python_enrich.standins.companies),
so that the sample's customers are found exactly, only by a former name, only under a legal-form
variant of their name, or not at all, in fixed proportions.  Like the real service it answers
names it does not list with other companies' near names (same city and industry word, the same
trade name in another city, a longer trade name, a branch), and it lists branches (分公司) as
companies of their own.  `sandbox_truth` says which company every probe name really is, so tests
can count wrong acceptances.  Pure data and matching; no HTTP here.
"""

from __future__ import annotations

import json
import random
import zlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from python_enrich.standins.companies import CORES, FORMS, INDUSTRIES, REGIONS, Company, build_companies, name_stem

EXACT, FUZZY, PINYIN, FORMER = "全称精确匹配", "模糊匹配", "拼音", "曾用名"
FUZZY_THRESHOLD = 0.6  # bigram Jaccard similarity for a fuzzy candidate
NEAR_NAMES = 2  # other companies of the same city and industry word added to a short answer
# A legal-form variant of each form, as the registry may list a company the sample names otherwise.
FORM_VARIANTS = {
    "有限公司": "有限责任公司", "有限责任公司": "有限公司", "股份有限公司": "股份有限公司",
    "集团有限公司": "（集团）有限公司", "（集团）有限公司": "集团有限公司",
}  # fmt: skip
# First letter of the pinyin of every character the synthetic names use (for pinyin search).
PINYIN_INITIALS = dict(
    zip(
        "上世业东中丰云交京任份传保信光公创力务化北医华南博厦口司合品嘉团国圳城天媒子宁安宏实山岛川州工市广庆建德恒成技投料"
        "新方明有服机材杭桥械武气水永汇汉江沙波泰洋津流浙海润深港湖源燃物环瑞电百盛福禾科纺织置联股肥能航苏药融西设责资达运远"
        "通都重金长门限集青食鼎",
        "SSYDZFYJJRFCBXGGCLWHBYHNBXKSHPJTGZCTMZNAHSSDCZGSGQJDHCJTLXFMYFJCHQXWQSYHHJSBTYJLZHRSGHYRWHRDBSFHKFZZLGFNHSYRXSZZDYY"
        "TDCJCMXJQSD",
        strict=True,
    )
)


@dataclass
class RegistryCompany:
    company_id: str
    full_name: str
    former_names: list[str] = field(default_factory=list)
    credit_code: str | None = None
    status: str = "存续"
    legal_person: str = ""
    registered_capital: str = ""
    industry: str = ""
    region: str = ""
    size: str = ""


def _clean(text: str) -> str:
    """The registry's own light matching form: no whitespace, half-width, full-width brackets, upper."""
    text = "".join(ch for ch in text if not ch.isspace())
    text = "".join(chr(ord(ch) - 0xFEE0) if 0xFF01 <= ord(ch) <= 0xFF5E else ch for ch in text)
    return text.replace("(", "（").replace(")", "）").upper()


def _bigrams(text: str) -> set[str]:
    """Character pairs of a cleaned name, ignoring brackets and （集团）, as a search engine might."""
    text = text.replace("（集团）", "").replace("（", "").replace("）", "")
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def pinyin_initials(name: str) -> str:
    return "".join(PINYIN_INITIALS.get(ch, ch if ch.isascii() and ch.isalnum() else "") for ch in name).upper()


def legal_form_variant_of(name: str, rng: random.Random) -> str:
    """The same name under another legal form, or with half-width brackets, or both."""
    stem = name_stem(name)
    form = name[len(stem) :]
    variant = stem + FORM_VARIANTS.get(form, form)
    if variant == name or rng.random() < 0.3:
        variant = variant.replace("（", "(").replace("）", ")") if "（" in variant else stem + "(集团)" + form
    return variant


def _new_id(rng: random.Random, taken: set[str]) -> str:
    while True:
        company_id = str(rng.randint(100_000_000, 9_999_999_999))
        if company_id not in taken:
            taken.add(company_id)
            return company_id


def _parts(name: str) -> tuple[str, str, str]:
    """(region, trade name, industry + form) of a generated name."""
    region = next((r for r in sorted(REGIONS, key=len, reverse=True) if name.startswith(r)), "")
    stem = name_stem(name)
    industry = next((i for i in sorted(INDUSTRIES, key=len, reverse=True) if stem.endswith(i)), "")
    return region, stem[len(region) : len(stem) - len(industry)], name[len(stem) - len(industry) :]


def _decoy_names(company: Company, rng: random.Random, stems: set[str]) -> list[tuple[str, str]]:
    """Other companies' names near an unlisted company's: (kind, name), never its own stem."""
    region, trade, rest = _parts(company.name)
    other_region = rng.choice([r for r in REGIONS if r != region])
    options = [
        ("other_city", other_region + trade + rest),
        ("longer_trade_name", region + trade + rng.choice("达通信源泰") + rest),
        ("branch", company.name + other_region.removesuffix("市") + "分公司"),
    ]
    chosen = rng.sample(options, rng.choice([1, 1, 2]))
    return [(kind, name) for kind, name in chosen if name_stem(name) not in stems]


def build_registry(companies: int, seed: int = 42) -> list[RegistryCompany]:
    """The registry as the sample data's companies appear in it (see registry_presence)."""
    return _build(companies, seed)[0]


def _build(companies: int, seed: int) -> tuple[list[RegistryCompany], list[Probe]]:
    rng = random.Random(f"registry:{seed}")
    universe = build_companies(companies, seed)
    stems = {name_stem(c.name) for c in universe} | {name_stem(f) for c in universe for f in c.former_names}
    taken = {c.company_id for c in universe}
    registry: list[RegistryCompany] = []
    probes: list[Probe] = []

    def listed(company_id: str, full_name: str, formers: list[str], credit: str | None) -> RegistryCompany:
        entry = RegistryCompany(
            company_id=company_id,
            full_name=full_name,
            former_names=formers,
            credit_code=credit,
            status=rng.choice(["存续", "存续", "存续", "在业", "注销"]),
            legal_person=rng.choice("王李张刘陈杨黄赵周吴")
            + rng.choice(["伟", "芳", "娜", "敏", "静", "强", "磊", "军"]),
            registered_capital=f"{rng.choice([100, 500, 1000, 5000, 20000, 80000])}.00万元",
            industry=rng.choice(["制造业", "金融业", "信息技术", "交通运输", "批发零售", "建筑业"]),
            region=next((r for r in REGIONS if full_name.startswith(r)), "其他"),
            size=rng.choice(["大型企业", "中型企业", "小型企业"]),
        )
        registry.append(entry)
        return entry

    for company in universe:
        presence = company.registry_presence
        probes.append(Probe(company.name, company.company_id, presence, presence != "absent"))
        if presence == "absent":  # answered with other companies' near names (and, often, decoys)
            for kind, name in _decoy_names(company, rng, stems) if rng.random() < 0.6 else []:
                stems.add(name_stem(name))
                listed(_new_id(rng, taken), name, [], None)
                probes.append(Probe(name, registry[-1].company_id, f"decoy_{kind}", True))
            continue
        full_name, formers = company.name, list(company.former_names)
        if presence == "former":  # renamed since: the sample's name is a former one
            while True:
                full_name = rng.choice(REGIONS) + rng.choice(CORES) + rng.choice(INDUSTRIES) + rng.choice(FORMS)
                if name_stem(full_name) not in stems:
                    break
            stems.add(name_stem(full_name))
            formers = [company.name, *[f for f in formers if f != company.name]]
        elif presence == "variant":  # registered under a legal-form variant of the sample's name
            full_name = legal_form_variant_of(company.name, rng)
        listed(company.company_id, full_name, formers, company.credit_code)
        for former in company.former_names:
            if former != company.name:
                probes.append(Probe(former, company.company_id, "former_name_query", True))
        if rng.random() < 0.15:  # a branch listed as a company of its own, and one that is not listed
            region = _parts(company.name)[0]
            cities = [r.removesuffix("市") for r in REGIONS if r != region]
            listed_city, unlisted_city = rng.sample(cities, 2)
            branch = listed(_new_id(rng, taken), full_name + listed_city + "分公司", [], None)
            probes.append(Probe(branch.full_name, branch.company_id, "branch", True))
            probes.append(Probe(full_name + unlisted_city + "分公司", _new_id(rng, taken), "unlisted_branch", False))
    return registry, probes


@dataclass(frozen=True)
class Probe:
    """A name someone might look up, and the company it really is (listed: in the registry).

    kind: exact / former / variant / absent (the sample's companies by their registry presence),
    former_name_query (a listed company's former name), branch (a listed branch), unlisted_branch,
    decoy_other_city / decoy_longer_trade_name / decoy_branch (listed near names of an unlisted company)."""

    name: str
    company_id: str
    kind: str
    listed: bool


def sandbox_truth(companies: int, seed: int = 42) -> list[Probe]:
    """The truth about the registry build_registry(companies, seed) makes: which company each
    probe name really is (the sample's names, former names, branches and near-name decoys)."""
    return _build(companies, seed)[1]


def load_registry(path: Path) -> list[RegistryCompany]:
    """A registry from a JSON list of objects with RegistryCompany's fields."""
    return [RegistryCompany(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]


def dump_registry(registry: list[RegistryCompany], path: Path) -> None:
    path.write_text(json.dumps([asdict(c) for c in registry], ensure_ascii=False, indent=1), encoding="utf-8")


class Registry:
    """Search and details over a list of companies, with the real service's match types."""

    def __init__(self, companies: list[RegistryCompany]) -> None:
        self.companies = companies
        self.by_id = {c.company_id: c for c in companies}
        self.by_full_name: dict[str, list[RegistryCompany]] = defaultdict(list)
        self.by_former_name: dict[str, list[RegistryCompany]] = defaultdict(list)
        self.by_pinyin: dict[str, list[RegistryCompany]] = defaultdict(list)
        self.by_bigram: dict[str, set[int]] = defaultdict(set)
        self.by_city_industry: dict[tuple[str, str], list[RegistryCompany]] = defaultdict(list)
        self.grams = [_bigrams(_clean(c.full_name)) for c in companies]
        for index, company in enumerate(companies):
            self.by_full_name[_clean(company.full_name)].append(company)
            for former in company.former_names:
                self.by_former_name[_clean(former)].append(company)
            self.by_pinyin[pinyin_initials(company.full_name)].append(company)
            for gram in self.grams[index]:
                self.by_bigram[gram].add(index)
            region, _, rest = _parts(company.full_name)
            self.by_city_industry[(region, rest[:2])].append(company)
        # Bigrams like 公司 or 有限 are in most names: they score but never nominate candidates.
        self.common = {gram for gram, owners in self.by_bigram.items() if len(owners) > max(50, len(companies) // 20)}

    def _item(self, company: RegistryCompany, match_type: str, score: float) -> dict[str, Any]:
        # The real service sometimes sends ids as numbers: do so for a fixed share of companies.
        as_number = zlib.crc32(company.company_id.encode()) % 5 == 0
        item = {
            "companyId": int(company.company_id) if as_number else company.company_id,
            "companyFullName": company.full_name,
            "name": company.full_name,
            "coname": company.full_name,
            "unite_code": company.credit_code,
            "type": match_type,
            "_score": round(score * 100, 2),
            "rank_score": round(score, 4),
            "company_former_name": ",".join(company.former_names),
            "registered_status": company.status,
        }
        if zlib.crc32(company.company_id.encode()) % 4 == 1:  # some items lack former names: ask findDepart
            del item["company_former_name"]
        return item

    def search(self, key: str, limit: int = 5) -> list[dict[str, Any]]:
        cleaned = _clean(key)
        if not cleaned:
            return []
        items: list[dict[str, Any]] = []
        seen: set[str] = set()

        def add(company: RegistryCompany, match_type: str, score: float) -> None:
            if company.company_id not in seen and len(items) < limit:
                seen.add(company.company_id)
                items.append(self._item(company, match_type, score))

        for company in self.by_full_name.get(cleaned, []):
            add(company, EXACT, 1.0)
        for company in self.by_former_name.get(cleaned, []):
            add(company, FORMER, 0.9)
        if cleaned.isascii() and cleaned.isalpha():
            for company in self.by_pinyin.get(cleaned, []):
                add(company, PINYIN, 0.7)
        grams = _bigrams(cleaned)
        candidates: set[int] = set()
        for gram in grams - self.common:
            candidates |= self.by_bigram.get(gram, set())
        scored = []
        for index in candidates:
            score = len(grams & self.grams[index]) / len(grams | self.grams[index])
            if score >= FUZZY_THRESHOLD:
                scored.append((score, self.companies[index].company_id, index))
        before = len(items)
        for score, _, index in sorted(scored, reverse=True):
            add(self.companies[index], FUZZY, score)
        # Like the real service, the best fuzzy candidate is not always first.
        if len(items) - before >= 2 and zlib.crc32(cleaned.encode()) % 3 == 0:
            items[before], items[before + 1] = items[before + 1], items[before]
        # A short answer is padded with near names: other companies of the same city and industry.
        region, _, rest = _parts(cleaned)
        near = [c for c in self.by_city_industry.get((region, rest[:2]), []) if c.company_id not in seen]
        for company in near[: NEAR_NAMES if region and rest else 0]:
            other = _bigrams(_clean(company.full_name))
            add(company, FUZZY, len(grams & other) / len(grams | other))
        return items

    def business_info(self, company_id: str) -> dict[str, Any]:
        company = self.by_id.get(company_id)
        if company is None:
            return {}
        return {
            "company_id": company.company_id,
            "companyFullName": company.full_name,
            "company_name": company.full_name,
            "registered_status": company.status,
            "legal_person_name": company.legal_person,
            "credit_code": company.credit_code,
            "unite_code": company.credit_code,
            "registerCaptial": company.registered_capital,
            "company_former_name": ",".join(company.former_names),
            "industry_name": company.industry,
        }

    def labels(self, company_id: str) -> list[dict[str, Any]]:
        company = self.by_id.get(company_id)
        if company is None:
            return []
        return [
            {
                "type": "行业分类",
                "labels": [
                    # A null companyId happens in the real data: clients fall back to a sibling's.
                    {"companyId": None, "lv1Name": company.industry, "lv2Name": None, "lv3Name": None, "lv4Name": None},
                    {"companyId": company.company_id, "lv1Name": "地区分类", "lv2Name": company.region,
                     "lv3Name": None, "lv4Name": None},
                ],
            },
            {"type": "企业规模", "labels": [{"companyId": company.company_id, "lv1Name": company.size,
                                          "lv2Name": None, "lv3Name": None, "lv4Name": None}]},
        ]  # fmt: skip
