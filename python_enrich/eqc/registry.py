"""The synthetic EQC registry behind the sandbox: companies, search, business info and labels.

Built from the same deterministic company universe as the sample data (python_enrich.companies),
so that the sample's customers are found exactly, only by a former name, only fuzzily, or not at
all, in fixed proportions.  Pure data and matching; no HTTP here.
"""

from __future__ import annotations

import json
import random
import zlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from python_enrich.companies import CORES, FORMS, INDUSTRIES, REGIONS, build_companies

EXACT, FUZZY, PINYIN, FORMER = "全称精确匹配", "模糊匹配", "拼音", "曾用名"
FUZZY_THRESHOLD = 0.6  # bigram Jaccard similarity for a fuzzy candidate
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
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def pinyin_initials(name: str) -> str:
    return "".join(PINYIN_INITIALS.get(ch, ch if ch.isascii() and ch.isalnum() else "") for ch in name).upper()


def build_registry(companies: int, seed: int = 42) -> list[RegistryCompany]:
    """The registry as the sample data's companies appear in it (see registry_presence)."""
    rng = random.Random(f"registry:{seed}")
    registry = []
    for company in build_companies(companies, seed):
        if company.registry_presence == "absent":
            continue
        full_name, formers = company.name, list(company.former_names)
        if company.registry_presence == "former":  # renamed since: the sample's name is a former one
            full_name = rng.choice(REGIONS) + rng.choice(CORES) + rng.choice(INDUSTRIES) + rng.choice(FORMS)
            formers = [company.name, *[f for f in formers if f != company.name]]
        elif company.registry_presence == "fuzzy":  # registered under a slightly different name
            full_name = (
                company.name.replace("有限公司", "有限责任公司", 1)
                if "有限公司" in company.name
                else company.name + "分公司"
            )
        registry.append(
            RegistryCompany(
                company_id=company.company_id,
                full_name=full_name,
                former_names=formers,
                credit_code=company.credit_code,
                status=rng.choice(["存续", "存续", "存续", "在业", "注销"]),
                legal_person=rng.choice("王李张刘陈杨黄赵周吴")
                + rng.choice(["伟", "芳", "娜", "敏", "静", "强", "磊", "军"]),
                registered_capital=f"{rng.choice([100, 500, 1000, 5000, 20000, 80000])}.00万元",
                industry=rng.choice(["制造业", "金融业", "信息技术", "交通运输", "批发零售", "建筑业"]),
                region=next((r for r in REGIONS if full_name.startswith(r)), "其他"),
                size=rng.choice(["大型企业", "中型企业", "小型企业"]),
            )
        )
    return registry


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
        self.grams = [_bigrams(_clean(c.full_name)) for c in companies]
        for index, company in enumerate(companies):
            self.by_full_name[_clean(company.full_name)].append(company)
            for former in company.former_names:
                self.by_former_name[_clean(former)].append(company)
            self.by_pinyin[pinyin_initials(company.full_name)].append(company)
            for gram in self.grams[index]:
                self.by_bigram[gram].add(index)
        # Bigrams like 公司 or 有限 are in most names: they score but never nominate candidates.
        self.common = {gram for gram, owners in self.by_bigram.items() if len(owners) > max(50, len(companies) // 20)}

    def _item(self, company: RegistryCompany, match_type: str, score: float) -> dict[str, Any]:
        # The real service sometimes sends ids as numbers: do so for a fixed share of companies.
        as_number = zlib.crc32(company.company_id.encode()) % 5 == 0
        return {
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
