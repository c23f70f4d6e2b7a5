"""Synthetic but realistic open-data catalog for bench/bench_opendata.py.

Nothing here imports govhub: the benchmark sets its environment first (see common.py).

  * ~200 organizations: 46 central agencies (ministries' departments, state enterprises) and
    an office of the provincial governor and a provincial public-health office for each of
    the 77 provinces;
  * 15 groups (themes), as data.go.th files datasets;
  * datasets made one by one from a seed and their index (`package(i)` is the same dict on
    every run), as a publisher would send them to package_create: Thai title and English
    title built from a topic's subjects, a province or the whole country and a (Buddhist-era)
    year; a Thai description of two to four sentences (sometimes an English one); Thai and
    English keywords; GDC fields (dataset type with its fields, objective, update frequency,
    coverage, category, classification, licence, languages, storage format); 1 to 4 link
    resources of mixed formats; ~5% high-value, ~1% private (internal data), ~0.3% drafts;
  * a CSV of bus ticket sales (one row per trip and stop), for the datastore.

The topic weights are chosen so that a Thai or English query of one topic matches a few
percent of the catalog, as on a real portal: "ข้อมูลสถิติ" ~5%, "รถโดยสารประจำทาง" ~2-3%,
"จัดซื้อจัดจ้าง" ~7%, "budget" ~8%, "hospital" ~4%, "statistics" ~5%. The benchmark prints the
counts it actually finds.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = 20261124

# (slug, Thai, English, region) -- the 77 provinces.
PROVINCES: tuple[tuple[str, str, str], ...] = (
    ("bkk", "กรุงเทพมหานคร", "Bangkok"), ("kbi", "กระบี่", "Krabi"), ("kri", "กาญจนบุรี", "Kanchanaburi"),
    ("ksn", "กาฬสินธุ์", "Kalasin"), ("kpt", "กำแพงเพชร", "Kamphaeng Phet"), ("kkn", "ขอนแก่น", "Khon Kaen"),
    ("cti", "จันทบุรี", "Chanthaburi"), ("cco", "ฉะเชิงเทรา", "Chachoengsao"), ("cbi", "ชลบุรี", "Chon Buri"),
    ("cnt", "ชัยนาท", "Chai Nat"), ("cpm", "ชัยภูมิ", "Chaiyaphum"), ("cpn", "ชุมพร", "Chumphon"),
    ("cri", "เชียงราย", "Chiang Rai"), ("cmi", "เชียงใหม่", "Chiang Mai"), ("trg", "ตรัง", "Trang"),
    ("trt", "ตราด", "Trat"), ("tak", "ตาก", "Tak"), ("nyk", "นครนายก", "Nakhon Nayok"),
    ("npt", "นครปฐม", "Nakhon Pathom"), ("npm", "นครพนม", "Nakhon Phanom"), ("nma", "นครราชสีมา", "Nakhon Ratchasima"),
    ("nrt", "นครศรีธรรมราช", "Nakhon Si Thammarat"), ("nsn", "นครสวรรค์", "Nakhon Sawan"), ("nbi", "นนทบุรี", "Nonthaburi"),
    ("nwt", "นราธิวาส", "Narathiwat"), ("nan", "น่าน", "Nan"), ("bkn", "บึงกาฬ", "Bueng Kan"),
    ("brm", "บุรีรัมย์", "Buri Ram"), ("pte", "ปทุมธานี", "Pathum Thani"), ("pkn", "ประจวบคีรีขันธ์", "Prachuap Khiri Khan"),
    ("pri", "ปราจีนบุรี", "Prachin Buri"), ("ptn", "ปัตตานี", "Pattani"), ("aya", "พระนครศรีอยุธยา", "Phra Nakhon Si Ayutthaya"),
    ("pyo", "พะเยา", "Phayao"), ("pna", "พังงา", "Phang Nga"), ("plg", "พัทลุง", "Phatthalung"),
    ("pct", "พิจิตร", "Phichit"), ("plk", "พิษณุโลก", "Phitsanulok"), ("pbi", "เพชรบุรี", "Phetchaburi"),
    ("pnb", "เพชรบูรณ์", "Phetchabun"), ("pre", "แพร่", "Phrae"), ("pkt", "ภูเก็ต", "Phuket"),
    ("mkm", "มหาสารคาม", "Maha Sarakham"), ("mdh", "มุกดาหาร", "Mukdahan"), ("msn", "แม่ฮ่องสอน", "Mae Hong Son"),
    ("yst", "ยโสธร", "Yasothon"), ("yla", "ยะลา", "Yala"), ("ret", "ร้อยเอ็ด", "Roi Et"),
    ("rng", "ระนอง", "Ranong"), ("ryg", "ระยอง", "Rayong"), ("rbr", "ราชบุรี", "Ratchaburi"),
    ("lri", "ลพบุรี", "Lop Buri"), ("lpg", "ลำปาง", "Lampang"), ("lpn", "ลำพูน", "Lamphun"),
    ("lei", "เลย", "Loei"), ("ssk", "ศรีสะเกษ", "Si Sa Ket"), ("snk", "สกลนคร", "Sakon Nakhon"),
    ("ska", "สงขลา", "Songkhla"), ("stn", "สตูล", "Satun"), ("spk", "สมุทรปราการ", "Samut Prakan"),
    ("skm", "สมุทรสงคราม", "Samut Songkhram"), ("skn", "สมุทรสาคร", "Samut Sakhon"), ("skw", "สระแก้ว", "Sa Kaeo"),
    ("sri", "สระบุรี", "Saraburi"), ("sbr", "สิงห์บุรี", "Sing Buri"), ("sti", "สุโขทัย", "Sukhothai"),
    ("spb", "สุพรรณบุรี", "Suphan Buri"), ("sni", "สุราษฎร์ธานี", "Surat Thani"), ("srn", "สุรินทร์", "Surin"),
    ("nki", "หนองคาย", "Nong Khai"), ("nbp", "หนองบัวลำภู", "Nong Bua Lam Phu"), ("atg", "อ่างทอง", "Ang Thong"),
    ("acr", "อำนาจเจริญ", "Amnat Charoen"), ("udn", "อุดรธานี", "Udon Thani"), ("utd", "อุตรดิตถ์", "Uttaradit"),
    ("uti", "อุทัยธานี", "Uthai Thani"), ("ubn", "อุบลราชธานี", "Ubon Ratchathani"),
)
assert len(PROVINCES) == 77

# (slug, Thai title, English title, description)
GROUPS: tuple[tuple[str, str, str, str], ...] = (
    ("transport", "คมนาคมและโลจิสติกส์", "Transport and logistics", "ข้อมูลการเดินทาง การขนส่ง ถนน และระบบขนส่งสาธารณะ"),
    ("finance", "การเงินการคลังและงบประมาณ", "Public finance", "ข้อมูลรายรับ รายจ่าย และงบประมาณของรัฐ"),
    ("procurement", "การจัดซื้อจัดจ้างภาครัฐ", "Public procurement", "ข้อมูลการจัดซื้อจัดจ้างและสัญญาของหน่วยงานรัฐ"),
    ("health", "สาธารณสุข", "Public health", "ข้อมูลสุขภาพ สถานพยาบาล และโรคติดต่อ"),
    ("education", "การศึกษา", "Education", "ข้อมูลสถานศึกษา นักเรียน และครู"),
    ("agriculture", "เกษตรกรรม", "Agriculture", "ข้อมูลการเพาะปลูก ปศุสัตว์ และเกษตรกร"),
    ("tourism", "การท่องเที่ยวและกีฬา", "Tourism and sports", "ข้อมูลนักท่องเที่ยว แหล่งท่องเที่ยว และการกีฬา"),
    ("environment", "ทรัพยากรธรรมชาติและสิ่งแวดล้อม", "Natural resources and environment", "ข้อมูลป่าไม้ น้ำ อากาศ และมลพิษ"),
    ("population", "ประชากรและสังคม", "Population and society", "ข้อมูลประชากร ครัวเรือน และสวัสดิการสังคม"),
    ("labour", "แรงงาน", "Labour", "ข้อมูลการจ้างงาน ผู้ว่างงาน และแรงงานต่างด้าว"),
    ("energy", "พลังงาน", "Energy", "ข้อมูลการผลิตและการใช้พลังงาน"),
    ("safety", "ความปลอดภัยและความมั่นคง", "Public safety", "ข้อมูลอุบัติเหตุ อาชญากรรม และสาธารณภัย"),
    ("economy", "เศรษฐกิจและการค้า", "Economy and trade", "ข้อมูลการค้า การลงทุน และราคาสินค้า"),
    ("land", "ที่ดินและที่อยู่อาศัย", "Land and housing", "ข้อมูลที่ดิน อาคาร และที่อยู่อาศัย"),
    ("government", "การบริหารราชการ", "Government administration", "ข้อมูลการบริหารงานของหน่วยงานรัฐ"),
)

# Central agencies: (slug, Thai, English, topics they publish).
CENTRAL: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("nso", "สำนักงานสถิติแห่งชาติ", "National Statistical Office", ("population", "labour", "economy", "education")),
    ("dlt", "กรมการขนส่งทางบก", "Department of Land Transport", ("transport", "bus", "safety")),
    ("bmta", "องค์การขนส่งมวลชนกรุงเทพ", "Bangkok Mass Transit Authority", ("bus",)),
    ("tcl", "บริษัท ขนส่ง จำกัด", "The Transport Co., Ltd.", ("bus", "transport")),
    ("doh", "กรมทางหลวง", "Department of Highways", ("transport", "procurement")),
    ("drr", "กรมทางหลวงชนบท", "Department of Rural Roads", ("transport", "procurement")),
    ("srt", "การรถไฟแห่งประเทศไทย", "State Railway of Thailand", ("transport",)),
    ("cgd", "กรมบัญชีกลาง", "Comptroller General's Department", ("procurement", "budget")),
    ("bb", "สำนักงบประมาณ", "Bureau of the Budget", ("budget",)),
    ("fpo", "สำนักงานเศรษฐกิจการคลัง", "Fiscal Policy Office", ("budget", "economy")),
    ("rd-tax", "กรมสรรพากร", "Revenue Department", ("budget",)),
    ("moph", "สำนักงานปลัดกระทรวงสาธารณสุข", "Office of the Permanent Secretary, Ministry of Public Health", ("health",)),
    ("ddc", "กรมควบคุมโรค", "Department of Disease Control", ("health",)),
    ("nhso", "สำนักงานหลักประกันสุขภาพแห่งชาติ", "National Health Security Office", ("health", "budget")),
    ("obec", "สำนักงานคณะกรรมการการศึกษาขั้นพื้นฐาน", "Office of the Basic Education Commission", ("education",)),
    ("ovec", "สำนักงานคณะกรรมการการอาชีวศึกษา", "Office of the Vocational Education Commission", ("education",)),
    ("ohec", "สำนักงานปลัดกระทรวงการอุดมศึกษา", "Office of the Permanent Secretary, Ministry of Higher Education", ("education",)),
    ("ricethai", "กรมการข้าว", "Rice Department", ("agriculture",)),
    ("oae", "สำนักงานเศรษฐกิจการเกษตร", "Office of Agricultural Economics", ("agriculture", "economy")),
    ("doae", "กรมส่งเสริมการเกษตร", "Department of Agricultural Extension", ("agriculture",)),
    ("dld", "กรมปศุสัตว์", "Department of Livestock Development", ("agriculture",)),
    ("fisheries", "กรมประมง", "Department of Fisheries", ("agriculture",)),
    ("mots", "สำนักงานปลัดกระทรวงการท่องเที่ยวและกีฬา", "Ministry of Tourism and Sports", ("tourism",)),
    ("tat", "การท่องเที่ยวแห่งประเทศไทย", "Tourism Authority of Thailand", ("tourism",)),
    ("dnp", "กรมอุทยานแห่งชาติ สัตว์ป่า และพันธุ์พืช", "Department of National Parks", ("tourism", "environment")),
    ("pcd", "กรมควบคุมมลพิษ", "Pollution Control Department", ("environment",)),
    ("tmd", "กรมอุตุนิยมวิทยา", "Thai Meteorological Department", ("environment",)),
    ("rid", "กรมชลประทาน", "Royal Irrigation Department", ("environment", "agriculture", "procurement")),
    ("dwr", "กรมทรัพยากรน้ำ", "Department of Water Resources", ("environment",)),
    ("dopa", "กรมการปกครอง", "Department of Provincial Administration", ("population",)),
    ("dop", "กรมกิจการผู้สูงอายุ", "Department of Older Persons", ("population",)),
    ("doe", "กรมการจัดหางาน", "Department of Employment", ("labour",)),
    ("sso", "สำนักงานประกันสังคม", "Social Security Office", ("labour", "health")),
    ("dsd", "กรมพัฒนาฝีมือแรงงาน", "Department of Skill Development", ("labour", "education")),
    ("egat", "การไฟฟ้าฝ่ายผลิตแห่งประเทศไทย", "Electricity Generating Authority of Thailand", ("energy", "procurement")),
    ("pea", "การไฟฟ้าส่วนภูมิภาค", "Provincial Electricity Authority", ("energy", "procurement")),
    ("mea", "การไฟฟ้านครหลวง", "Metropolitan Electricity Authority", ("energy",)),
    ("eppo", "สำนักงานนโยบายและแผนพลังงาน", "Energy Policy and Planning Office", ("energy",)),
    ("disaster", "กรมป้องกันและบรรเทาสาธารณภัย", "Department of Disaster Prevention and Mitigation", ("safety",)),
    ("police", "สำนักงานตำรวจแห่งชาติ", "Royal Thai Police", ("safety",)),
    ("dol", "กรมที่ดิน", "Department of Lands", ("land",)),
    ("nha", "การเคหะแห่งชาติ", "National Housing Authority", ("land",)),
    ("dit", "กรมการค้าภายใน", "Department of Internal Trade", ("economy",)),
    ("boi", "สำนักงานคณะกรรมการส่งเสริมการลงทุน", "Board of Investment", ("economy",)),
    ("bma", "กรุงเทพมหานคร", "Bangkok Metropolitan Administration", ("bus", "procurement", "environment", "health", "budget")),
    ("dga", "สำนักงานพัฒนารัฐบาลดิจิทัล", "Digital Government Development Agency", ("government", "procurement")),
)

# Topics: weight (% of datasets), group, subjects (Thai, English, slug), Thai description
# sentences ({place} and {year} filled in), English sentence, keywords, formats, types.
TOPICS: dict[str, dict[str, Any]] = {
    "bus": {
        "weight": 3, "groups": ("transport",),
        "subjects": (("เส้นทางรถโดยสารประจำทาง", "Bus routes", "bus-routes"),
                     ("จุดจอดรถโดยสารประจำทาง", "Bus stops", "bus-stops"),
                     ("ตารางเดินรถโดยสารประจำทาง", "Bus timetables", "bus-timetables"),
                     ("อัตราค่าโดยสารรถโดยสารประจำทาง", "Bus fares", "bus-fares"),
                     ("จำนวนผู้โดยสารรถโดยสารประจำทาง", "Bus ridership", "bus-ridership")),
        "sentences": ("ข้อมูลเส้นทางเดินรถและจุดจอดรถโดยสารประจำทางใน{place}",
                      "ประกอบด้วยหมายเลขสาย ต้นทาง ปลายทาง ระยะทาง และค่าโดยสาร",
                      "ใช้สำหรับวางแผนการเดินทางและพัฒนาระบบขนส่งสาธารณะ"),
        "english": "Routes, stops, timetables and fares of public buses.",
        "keywords": ("รถโดยสารประจำทาง", "ขนส่งสาธารณะ", "รถเมล์", "การเดินทาง", "bus", "public transport"),
        "formats": (("CSV", 40), ("GEOJSON", 20), ("JSON", 15), ("XLSX", 15), ("KML", 5), ("PDF", 5)),
        "types": (("record", 40), ("geospatial", 30), ("statistical", 20), ("mixed", 10)),
    },
    "transport": {
        "weight": 8, "groups": ("transport",),
        "subjects": (("จำนวนรถจดทะเบียนสะสม", "Registered vehicles", "registered-vehicles"),
                     ("ปริมาณการจราจรบนทางหลวง", "Highway traffic volume", "traffic-volume"),
                     ("สถานีขนส่งผู้โดยสาร", "Bus terminals", "bus-terminals"),
                     ("ผู้ได้รับใบอนุญาตขับรถ", "Driving licences issued", "driving-licences"),
                     ("โครงข่ายถนนและสะพาน", "Road and bridge network", "road-network"),
                     ("จำนวนผู้โดยสารรถไฟ", "Railway passengers", "rail-passengers")),
        "sentences": ("ข้อมูลด้านการคมนาคมขนส่งใน{place} ปี {year}",
                      "รวบรวมจากระบบงานทะเบียนและการสำรวจภาคสนาม",
                      "แสดงผลรายเดือนจำแนกตามประเภทรถและพื้นที่"),
        "english": "Transport data by month, vehicle type and area.",
        "keywords": ("คมนาคม", "ขนส่ง", "ถนน", "ยานพาหนะ", "transport", "traffic"),
        "formats": (("CSV", 35), ("XLSX", 30), ("JSON", 10), ("PDF", 15), ("SHP", 5), ("API", 5)),
        "types": (("record", 40), ("statistical", 35), ("geospatial", 15), ("mixed", 10)),
    },
    "procurement": {
        "weight": 7, "groups": ("procurement", "finance"),
        "subjects": (("ผลการจัดซื้อจัดจ้าง", "Procurement results", "procurement-results"),
                     ("แผนการจัดซื้อจัดจ้างประจำปี", "Annual procurement plan", "procurement-plan"),
                     ("ประกาศราคากลางงานก่อสร้าง", "Reference prices of construction works", "reference-prices"),
                     ("สัญญาจัดซื้อจัดจ้างที่ลงนาม", "Signed procurement contracts", "procurement-contracts"),
                     ("สรุปผลการดำเนินการจัดซื้อจัดจ้างรายเดือน", "Monthly procurement summary", "procurement-summary")),
        "sentences": ("ข้อมูลการจัดซื้อจัดจ้างของหน่วยงานใน{place} ปีงบประมาณ {year}",
                      "ประกอบด้วยเลขที่โครงการ วิธีการจัดหา วงเงินงบประมาณ ราคากลาง ผู้ชนะการเสนอราคา และวันที่ลงนามสัญญา",
                      "เผยแพร่ตามพระราชบัญญัติการจัดซื้อจัดจ้างและการบริหารพัสดุภาครัฐ พ.ศ. 2560"),
        "english": "Procurement projects with their budget, reference price, winning bidder and contract date.",
        "keywords": ("จัดซื้อจัดจ้าง", "พัสดุ", "สัญญา", "ราคากลาง", "procurement", "e-GP"),
        "formats": (("CSV", 40), ("XLSX", 30), ("PDF", 20), ("JSON", 10)),
        "types": (("record", 70), ("statistical", 20), ("mixed", 10)),
    },
    "budget": {
        "weight": 6, "groups": ("finance",),
        "subjects": (("งบประมาณรายจ่ายประจำปี", "Annual budget expenditure", "annual-budget"),
                     ("ผลการเบิกจ่ายงบประมาณ", "Budget disbursement", "budget-disbursement"),
                     ("รายได้จัดเก็บของรัฐบาล", "Government revenue collected", "government-revenue"),
                     ("งบประมาณโครงการลงทุน", "Capital budget of projects", "capital-budget"),
                     ("หนี้สาธารณะคงค้าง", "Outstanding public debt", "public-debt")),
        "sentences": ("ข้อมูลงบประมาณและการเบิกจ่ายของหน่วยงานใน{place} ปีงบประมาณ {year}",
                      "จำแนกตามแผนงาน ผลผลิต และงบรายจ่าย",
                      "ใช้ติดตามผลการใช้จ่ายงบประมาณให้เป็นไปตามแผน"),
        "english": "Budget allocations and disbursements by programme and expense category.",
        "keywords": ("งบประมาณ", "การคลัง", "รายจ่าย", "budget", "public finance"),
        "formats": (("XLSX", 40), ("CSV", 30), ("PDF", 25), ("JSON", 5)),
        "types": (("statistical", 45), ("record", 45), ("mixed", 10)),
    },
    "health": {
        "weight": 11, "groups": ("health",),
        "subjects": (("จำนวนผู้ป่วยนอกของโรงพยาบาล", "Hospital outpatient visits", "hospital-outpatients"),
                     ("จำนวนเตียงของโรงพยาบาลและสถานพยาบาล", "Hospital beds", "hospital-beds"),
                     ("บุคลากรทางการแพทย์และสาธารณสุข", "Medical and public-health personnel", "health-personnel"),
                     ("ผู้ป่วยโรคไข้เลือดออก", "Dengue fever cases", "dengue-cases"),
                     ("ความครอบคลุมการได้รับวัคซีนในเด็ก", "Childhood vaccination coverage", "vaccination-coverage"),
                     ("สาเหตุการตาย 10 อันดับแรก", "Ten leading causes of death", "causes-of-death"),
                     ("ที่ตั้งโรงพยาบาลส่งเสริมสุขภาพตำบล", "Sub-district health promoting hospitals", "sub-district-hospitals"),
                     ("ผู้ป่วยโรคเบาหวานและความดันโลหิตสูง", "Diabetes and hypertension patients", "ncd-patients")),
        "sentences": ("ข้อมูลด้านสาธารณสุขของ{place} ปี {year}",
                      "รวบรวมจากรายงานของสถานพยาบาลในสังกัด",
                      "จำแนกตามเพศ กลุ่มอายุ และอำเภอ",
                      "ใช้วางแผนการจัดสรรทรัพยากรด้านสุขภาพและเฝ้าระวังโรค"),
        "english": "",
        "keywords": ("สาธารณสุข", "สุขภาพ", "ผู้ป่วย", "โรค", "health", "HDC"),
        "formats": (("CSV", 35), ("XLSX", 30), ("PDF", 15), ("JSON", 10), ("API", 10)),
        "types": (("statistical", 45), ("record", 40), ("geospatial", 5), ("mixed", 10)),
    },
    "education": {
        "weight": 9, "groups": ("education",),
        "subjects": (("จำนวนนักเรียนจำแนกตามระดับชั้น", "Students by grade", "students-by-grade"),
                     ("รายชื่อสถานศึกษา", "List of schools", "schools"),
                     ("จำนวนครูและบุคลากรทางการศึกษา", "Teachers and education personnel", "teachers"),
                     ("ผลการทดสอบทางการศึกษาระดับชาติ", "National education test results", "o-net-results"),
                     ("นักศึกษาที่สำเร็จการศึกษา", "Graduates", "graduates"),
                     ("ทุนการศึกษา", "Scholarships", "scholarships")),
        "sentences": ("ข้อมูลด้านการศึกษาใน{place} ปีการศึกษา {year}",
                      "ครอบคลุมสถานศึกษาทุกสังกัดในพื้นที่",
                      "ใช้ประกอบการวางแผนและจัดสรรอัตรากำลังครู"),
        "english": "",
        "keywords": ("การศึกษา", "โรงเรียน", "นักเรียน", "ครู", "education", "school"),
        "formats": (("CSV", 35), ("XLSX", 35), ("PDF", 15), ("JSON", 10), ("ODS", 5)),
        "types": (("statistical", 40), ("record", 45), ("geospatial", 5), ("mixed", 10)),
    },
    "agriculture": {
        "weight": 9, "groups": ("agriculture",),
        "subjects": (("พื้นที่เพาะปลูกและผลผลิตข้าว", "Rice planted area and yield", "rice-yield"),
                     ("เกษตรกรที่ขึ้นทะเบียน", "Registered farmers", "registered-farmers"),
                     ("ราคาสินค้าเกษตรที่เกษตรกรขายได้", "Farm-gate prices", "farm-gate-prices"),
                     ("จำนวนปศุสัตว์", "Livestock numbers", "livestock"),
                     ("ผลผลิตยางพาราและมันสำปะหลัง", "Rubber and cassava output", "rubber-cassava"),
                     ("พื้นที่ชลประทาน", "Irrigated area", "irrigated-area")),
        "sentences": ("ข้อมูลการเกษตรของ{place} ฤดูกาลผลิต {year}",
                      "จำแนกตามชนิดพืช อำเภอ และเดือน",
                      "ใช้ติดตามสถานการณ์การผลิตและราคาสินค้าเกษตร"),
        "english": "",
        "keywords": ("เกษตร", "เกษตรกร", "ข้าว", "พืชเศรษฐกิจ", "agriculture", "crops"),
        "formats": (("CSV", 30), ("XLSX", 35), ("PDF", 10), ("SHP", 10), ("GEOJSON", 10), ("JSON", 5)),
        "types": (("statistical", 45), ("record", 25), ("geospatial", 20), ("mixed", 10)),
    },
    "tourism": {
        "weight": 7, "groups": ("tourism",),
        "subjects": (("จำนวนนักท่องเที่ยวและรายได้จากการท่องเที่ยว", "Tourist arrivals and receipts", "tourist-arrivals"),
                     ("แหล่งท่องเที่ยว", "Tourist attractions", "attractions"),
                     ("สถานประกอบการที่พักแรม", "Accommodation establishments", "accommodation"),
                     ("อัตราการเข้าพักโรงแรม", "Hotel occupancy rate", "hotel-occupancy"),
                     ("เทศกาลและงานประเพณี", "Festivals and events", "festivals")),
        "sentences": ("ข้อมูลการท่องเที่ยวของ{place} ปี {year}",
                      "จำแนกตามนักท่องเที่ยวชาวไทยและชาวต่างชาติ",
                      "ใช้ส่งเสริมการท่องเที่ยวและการลงทุนในพื้นที่"),
        "english": "Tourism figures for Thai and foreign visitors.",
        "keywords": ("ท่องเที่ยว", "นักท่องเที่ยว", "โรงแรม", "tourism", "travel"),
        "formats": (("CSV", 30), ("XLSX", 30), ("JSON", 15), ("GEOJSON", 10), ("PDF", 15)),
        "types": (("statistical", 45), ("record", 25), ("geospatial", 20), ("mixed", 10)),
    },
    "environment": {
        "weight": 7, "groups": ("environment",),
        "subjects": (("คุณภาพอากาศและฝุ่นละออง PM2.5", "Air quality and PM2.5", "air-quality"),
                     ("ปริมาณน้ำฝนรายวัน", "Daily rainfall", "rainfall"),
                     ("ปริมาณน้ำในอ่างเก็บน้ำ", "Reservoir storage", "reservoir-storage"),
                     ("พื้นที่ป่าไม้", "Forest area", "forest-area"),
                     ("ปริมาณขยะมูลฝอย", "Municipal solid waste", "solid-waste"),
                     ("คุณภาพน้ำแม่น้ำสายหลัก", "River water quality", "river-water-quality")),
        "sentences": ("ข้อมูลทรัพยากรธรรมชาติและสิ่งแวดล้อมของ{place} ปี {year}",
                      "ตรวจวัดจากสถานีตรวจวัดอัตโนมัติ",
                      "ใช้เฝ้าระวังและแจ้งเตือนประชาชน"),
        "english": "Measurements from automatic monitoring stations.",
        "keywords": ("สิ่งแวดล้อม", "มลพิษ", "น้ำ", "อากาศ", "environment", "pollution"),
        "formats": (("CSV", 35), ("JSON", 20), ("API", 10), ("XLSX", 15), ("GEOJSON", 10), ("SHP", 5), ("PDF", 5)),
        "types": (("record", 35), ("statistical", 30), ("geospatial", 25), ("mixed", 10)),
    },
    "population": {
        "weight": 7, "groups": ("population",),
        "subjects": (("จำนวนประชากรจากการทะเบียน", "Registered population", "registered-population"),
                     ("จำนวนการเกิดและการตาย", "Births and deaths", "births-deaths"),
                     ("ผู้สูงอายุ", "Older persons", "older-persons"),
                     ("ครัวเรือนและที่อยู่อาศัย", "Households and dwellings", "households"),
                     ("ผู้ได้รับเบี้ยยังชีพ", "Recipients of living allowances", "living-allowances")),
        "sentences": ("ข้อมูลประชากรและสังคมของ{place} ณ สิ้นปี {year}",
                      "จำแนกตามเพศ อายุ และอำเภอ",
                      "ใช้ประกอบการวางแผนพัฒนาและจัดบริการสาธารณะ"),
        "english": "",
        "keywords": ("ประชากร", "ทะเบียนราษฎร", "ครัวเรือน", "population", "demography"),
        "formats": (("CSV", 35), ("XLSX", 35), ("PDF", 15), ("JSON", 15)),
        "types": (("statistical", 60), ("record", 30), ("mixed", 10)),
    },
    "labour": {
        "weight": 5, "groups": ("labour",),
        "subjects": (("ผู้มีงานทำและผู้ว่างงาน", "Employed and unemployed persons", "employment"),
                     ("แรงงานต่างด้าวที่ได้รับอนุญาตทำงาน", "Foreign workers with work permits", "foreign-workers"),
                     ("ตำแหน่งงานว่าง", "Job vacancies", "job-vacancies"),
                     ("ผู้ประกันตน", "Insured persons", "insured-persons")),
        "sentences": ("ข้อมูลด้านแรงงานของ{place} ปี {year}",
                      "จำแนกตามอุตสาหกรรม อาชีพ และเพศ",
                      "ใช้ติดตามสถานการณ์ตลาดแรงงาน"),
        "english": "",
        "keywords": ("แรงงาน", "การจ้างงาน", "labour", "employment"),
        "formats": (("CSV", 30), ("XLSX", 40), ("PDF", 20), ("JSON", 10)),
        "types": (("statistical", 60), ("record", 30), ("mixed", 10)),
    },
    "energy": {
        "weight": 4, "groups": ("energy",),
        "subjects": (("การใช้ไฟฟ้าจำแนกตามประเภทผู้ใช้", "Electricity use by customer type", "electricity-use"),
                     ("การผลิตไฟฟ้าจากพลังงานหมุนเวียน", "Renewable electricity generation", "renewable-generation"),
                     ("ราคาขายปลีกน้ำมันเชื้อเพลิง", "Retail fuel prices", "fuel-prices"),
                     ("สถานีอัดประจุไฟฟ้า", "EV charging stations", "ev-charging")),
        "sentences": ("ข้อมูลพลังงานของ{place} ปี {year}",
                      "รายงานรายเดือนจากผู้ผลิตและผู้จำหน่าย",
                      "ใช้ประกอบการวางแผนและกำหนดนโยบายพลังงาน"),
        "english": "Monthly energy figures from producers and distributors.",
        "keywords": ("พลังงาน", "ไฟฟ้า", "น้ำมัน", "energy", "electricity"),
        "formats": (("CSV", 35), ("XLSX", 30), ("JSON", 15), ("API", 10), ("PDF", 10)),
        "types": (("statistical", 50), ("record", 30), ("geospatial", 10), ("mixed", 10)),
    },
    "safety": {
        "weight": 5, "groups": ("safety",),
        "subjects": (("อุบัติเหตุทางถนน", "Road accidents", "road-accidents"),
                     ("สถิติคดีอาญา", "Criminal cases", "criminal-cases"),
                     ("พื้นที่ประสบอุทกภัย", "Flooded areas", "flooded-areas"),
                     ("อัคคีภัย", "Fires", "fires")),
        "sentences": ("ข้อมูลความปลอดภัยในชีวิตและทรัพย์สินของ{place} ปี {year}",
                      "จำแนกตามอำเภอ เดือน และประเภทเหตุ",
                      "ใช้วางแผนป้องกันและลดความสูญเสีย"),
        "english": "",
        "keywords": ("ความปลอดภัย", "อุบัติเหตุ", "สาธารณภัย", "safety", "accidents"),
        "formats": (("CSV", 35), ("XLSX", 30), ("GEOJSON", 10), ("PDF", 15), ("JSON", 10)),
        "types": (("statistical", 45), ("record", 35), ("geospatial", 10), ("mixed", 10)),
    },
    "economy": {
        "weight": 4, "groups": ("economy",),
        "subjects": (("ดัชนีราคาผู้บริโภค", "Consumer price index", "cpi"),
                     ("ผลิตภัณฑ์มวลรวมจังหวัด", "Gross provincial product", "gpp"),
                     ("มูลค่าการส่งออกและนำเข้า", "Exports and imports", "trade-values"),
                     ("นิติบุคคลจดทะเบียนจัดตั้งใหม่", "Newly registered companies", "new-companies")),
        "sentences": ("ข้อมูลเศรษฐกิจของ{place} ปี {year}",
                      "รวบรวมเป็นรายเดือนและรายไตรมาส",
                      "ใช้วิเคราะห์ภาวะเศรษฐกิจและการลงทุน"),
        "english": "Economic indicators, monthly and quarterly.",
        "keywords": ("เศรษฐกิจ", "การค้า", "ราคา", "economy", "trade"),
        "formats": (("CSV", 30), ("XLSX", 40), ("PDF", 15), ("JSON", 15)),
        "types": (("statistical", 65), ("record", 25), ("mixed", 10)),
    },
    "land": {
        "weight": 4, "groups": ("land",),
        "subjects": (("ราคาประเมินที่ดิน", "Appraised land prices", "land-prices"),
                     ("การออกโฉนดที่ดิน", "Land title deeds issued", "title-deeds"),
                     ("โครงการที่อยู่อาศัย", "Housing projects", "housing-projects")),
        "sentences": ("ข้อมูลที่ดินและที่อยู่อาศัยของ{place} ปี {year}",
                      "จำแนกตามอำเภอและประเภทเอกสารสิทธิ์",
                      "ใช้ประกอบการวางผังเมืองและการจัดเก็บภาษี"),
        "english": "",
        "keywords": ("ที่ดิน", "ที่อยู่อาศัย", "โฉนด", "land", "housing"),
        "formats": (("CSV", 25), ("XLSX", 30), ("SHP", 15), ("GEOJSON", 10), ("PDF", 20)),
        "types": (("record", 40), ("geospatial", 30), ("statistical", 20), ("mixed", 10)),
    },
    "government": {
        "weight": 4, "groups": ("government",),
        "subjects": (("อัตรากำลังข้าราชการและลูกจ้าง", "Civil servants and employees", "civil-servants"),
                     ("เรื่องร้องเรียนของประชาชน", "Citizens' complaints", "complaints"),
                     ("การให้บริการประชาชนของหน่วยงาน", "Public services delivered", "public-services"),
                     ("ทำเนียบผู้บริหาร", "Directory of executives", "executives")),
        "sentences": ("ข้อมูลการบริหารราชการของ{place} ปี {year}",
                      "รวบรวมจากระบบงานของหน่วยงาน",
                      "เผยแพร่เพื่อความโปร่งใสและการมีส่วนร่วมของประชาชน"),
        "english": "",
        "keywords": ("บริหารราชการ", "ความโปร่งใส", "บริการประชาชน", "government", "transparency"),
        "formats": (("CSV", 30), ("XLSX", 30), ("PDF", 30), ("JSON", 10)),
        "types": (("record", 70), ("statistical", 20), ("mixed", 10)),
    },
}
assert sum(topic["weight"] for topic in TOPICS.values()) == 100

GENERIC_SENTENCES = (
    "ข้อมูลนี้จัดทำโดยหน่วยงานเจ้าของข้อมูลและผ่านการตรวจสอบความถูกต้องแล้ว",
    "เผยแพร่ตามประกาศคณะกรรมการพัฒนารัฐบาลดิจิทัลเรื่องมาตรฐานข้อมูลเปิดภาครัฐ",
    "ผู้ใช้สามารถนำข้อมูลไปใช้ประโยชน์ได้โดยอ้างอิงแหล่งที่มา",
    "หากพบข้อผิดพลาดโปรดแจ้งผู้ดูแลชุดข้อมูล",
    "มีการปรับปรุงข้อมูลตามรอบที่กำหนด",
    "หน่วยนับเป็นไปตามคำอธิบายในไฟล์แนบ",
)
# Sentences that bring "สถิติ" / "statistics" into a description (a few percent only).
STATISTICS_SENTENCE = "ข้อมูลชุดนี้ใช้ในการจัดทำรายงานสถิติประจำปีของหน่วยงาน"
STATISTICS_ENGLISH = "Used for the agency's annual statistics report."

LICENCES = (("Open-D", 75), ("cc-by", 10), ("cc-by-sa", 3), ("cc-zero", 3), ("odc-by", 2), ("cc-nc", 2),
            ("other-closed", 2), ("notspecified", 3))
FREQUENCIES = (("year", 45), ("month", 20), ("quarter", 12), ("half_year", 5), ("day", 5), ("week", 3),
               ("realtime", 2), ("never", 5), ("other", 3))
OBJECTIVES = (("public_service", 40), ("mission", 20), ("analysis", 15), ("mission_report", 10),
              ("national_strategy", 5), ("law", 5), ("master_plan", 3), ("other", 2))
STORAGE = {"CSV": "csv", "XLSX": "xls", "JSON": "json", "PDF": "pdf", "GEOJSON": "geojson", "SHP": "shapefile",
           "KML": "kml", "XML": "xml", "ODS": "xls", "API": "database"}
EXTENSIONS = {"CSV": "csv", "XLSX": "xlsx", "JSON": "json", "PDF": "pdf", "GEOJSON": "geojson", "SHP": "zip",
              "KML": "kml", "XML": "xml", "ODS": "ods", "API": ""}
UNITS = ("คน", "ราย", "บาท", "ล้านบาท", "ครั้ง", "ตัน", "ไร่", "แห่ง", "คัน", "ร้อยละ")
YEARS_BE = tuple(range(2558, 2568))
RESOURCE_LABELS = {"CSV": "ไฟล์ข้อมูล CSV", "XLSX": "ไฟล์ Excel", "JSON": "ข้อมูลรูปแบบ JSON", "PDF": "รายงาน PDF",
                   "GEOJSON": "ข้อมูลเชิงพื้นที่ GeoJSON", "SHP": "Shapefile", "KML": "ไฟล์ KML", "XML": "ไฟล์ XML",
                   "ODS": "ไฟล์ ODS", "API": "API ให้บริการข้อมูล"}


@dataclass(frozen=True)
class Organization:
    name: str
    title_th: str
    title_en: str
    code: str  # the agency code (identity.create_agency)
    topics: tuple[str, ...]
    province: int | None  # index into PROVINCES for provincial offices


def organizations() -> list[Organization]:
    """46 central agencies, and two offices per province (governor's office, public health): 200."""
    found = [Organization(slug, th, en, slug.replace("-", "").upper()[:16], topics, None)
             for slug, th, en, topics in CENTRAL]
    for index, (slug, th, en) in enumerate(PROVINCES):
        found.append(Organization(f"province-{slug}", f"สำนักงานจังหวัด{th}", f"{en} Provincial Office",
                                  f"PV{slug.upper()}", ("population", "tourism", "agriculture", "procurement", "budget",
                                                        "government", "safety", "environment", "economy", "land"), index))
        found.append(Organization(f"ppho-{slug}", f"สำนักงานสาธารณสุขจังหวัด{th}",
                                  f"{en} Provincial Public Health Office", f"PH{slug.upper()}",
                                  ("health", "procurement", "budget"), index))
    return found


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([value for value, _ in weighted], weights=[weight for _, weight in weighted])[0]


_ORGS: list[Organization] | None = None
_BY_TOPIC: dict[str, list[Organization]] = {}
_TOPIC_NAMES = list(TOPICS)
_TOPIC_WEIGHTS = [TOPICS[name]["weight"] for name in _TOPIC_NAMES]


def _orgs_for(topic: str) -> list[Organization]:
    global _ORGS
    if _ORGS is None:
        _ORGS = organizations()
        for org in _ORGS:
            for name in org.topics:
                _BY_TOPIC.setdefault(name, []).append(org)
    return _BY_TOPIC[topic]


def package(index: int, *, seed: int = SEED) -> dict[str, Any]:
    """Dataset number `index` as a publisher sends it to package_create (the same on every run)."""
    rng = random.Random(seed * 1_000_003 + index)
    topic_name = rng.choices(_TOPIC_NAMES, weights=_TOPIC_WEIGHTS)[0]
    topic = TOPICS[topic_name]
    org = rng.choice(_orgs_for(topic_name))
    subject_th, subject_en, subject_slug = rng.choice(topic["subjects"])
    year = rng.choice(YEARS_BE)
    if org.province is not None:
        province = org.province
    elif rng.random() < 0.45:
        province = rng.randrange(len(PROVINCES))
    else:
        province = None
    if province is not None:
        slug, province_th, province_en = PROVINCES[province]
        place_th, place_en, coverage = f"จังหวัด{province_th}", province_en, "province"
        if province_th == "กรุงเทพมหานคร":
            place_th = province_th
    else:
        slug, place_th, place_en, coverage = "th", "ทั่วประเทศ", "Thailand", "country"
    dataset_type = _pick(rng, topic["types"])
    # Statistical datasets are often titled "ข้อมูลสถิติ..." / "Statistics of ...": ~4.5% in all.
    stat_title = dataset_type == "statistical" and rng.random() < 0.11
    title = f"{'ข้อมูลสถิติ' if stat_title else ''}{subject_th} {place_th} ปี {year}"
    title_en = f"{'Statistics of ' + subject_en.lower() if stat_title else subject_en}, {place_en}, {year - 543}"
    sentences = [sentence.format(place=place_th, year=year) for sentence in topic["sentences"]]
    sentences = sentences[: rng.randint(2, len(sentences))]
    sentences.extend(rng.sample(GENERIC_SENTENCES, rng.randint(0, 2)))
    english = [topic["english"]] if topic["english"] and rng.random() < 0.5 else []
    if rng.random() < 0.01:
        sentences.append(STATISTICS_SENTENCE)
        english.append(STATISTICS_ENGLISH)
    notes = " ".join(sentences) + ("\n\n" + " ".join(english) if english else "")
    keywords = rng.sample(topic["keywords"], rng.randint(2, min(5, len(topic["keywords"]))))
    if province is not None and rng.random() < 0.5:
        keywords.append(PROVINCES[province][1])
    if rng.random() < 0.3:
        keywords.append(str(year))
    groups = [topic["groups"][0]] + ([g for g in topic["groups"][1:] if rng.random() < 0.5])
    if rng.random() < 0.08:
        groups.append(rng.choice([g[0] for g in GROUPS if g[0] not in groups]))
    private = rng.random() < 0.01
    data: dict[str, Any] = {
        "name": f"{org.name}-{subject_slug}-{slug}-{year}-{index:06d}",
        "title": title, "title_en": title_en, "notes": notes, "owner_org": org.name,
        "data_type": dataset_type,
        "objective": sorted({_pick(rng, OBJECTIVES) for _ in range(rng.randint(1, 2))}),
        "update_frequency_unit": _pick(rng, FREQUENCIES), "update_frequency_interval": 1,
        "geo_coverage": coverage,
        "data_source": org.title_th,
        "data_category": "internal" if private else "public",
        "data_classification": "internal" if private else "open",
        "private": private,
        "license_id": _pick(rng, LICENCES),
        "high_value_dataset": rng.random() < 0.05,
        "reference_data": rng.random() < 0.03,
        "data_language": ["th", "en"] if english or rng.random() < 0.2 else ["th"],
        "maintainer": f"กลุ่มงานข้อมูล {org.title_th}",
        "maintainer_email": f"data@{org.name}.go.th",
        "url": f"https://www.{org.name}.go.th/data/{subject_slug}",
        "created_date": f"{year - 543}-01-01",
        "last_updated_date": f"{min(year - 543 + 1, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "tags": [{"name": keyword} for keyword in dict.fromkeys(keywords)],
        "groups": [{"name": name} for name in groups],
    }
    if rng.random() < 0.003:
        data["state"] = "draft"
    if dataset_type == "statistical":
        data.update(official_statistics=rng.random() < 0.3, unit_of_measure=rng.choice(UNITS), unit_of_multiplier=1,
                    first_year_of_data=year - rng.randint(0, 5), last_year_of_data=year)
    elif dataset_type == "geospatial":
        west, south = 97.3 + rng.random() * 6, 5.6 + rng.random() * 12
        data.update(spatial_reference_system="EPSG:4326", equivalent_scale="1:50000",
                    west_bound_longitude=round(west, 4), east_bound_longitude=round(min(105.6, west + 1.5), 4),
                    south_bound_latitude=round(south, 4), north_bound_latitude=round(min(20.5, south + 1.5), 4))
    resources = []
    formats: list[str] = []
    for position in range(rng.choices((1, 2, 3, 4), weights=(30, 35, 25, 10))[0]):
        fmt = _pick(rng, topic["formats"])
        formats.append(fmt)
        extension = EXTENSIONS[fmt]
        url = (f"https://api.{org.name}.go.th/v1/{subject_slug}?year={year}" if fmt == "API" else
               f"https://data.{org.name}.go.th/files/{subject_slug}-{slug}-{year}-{position + 1}.{extension}")
        resources.append({"name": f"{subject_th} {year} ({RESOURCE_LABELS[fmt]})",
                          "description": f"{subject_th} {place_th} ปี {year}", "format": fmt, "url": url})
    data["resources"] = resources
    data["data_format"] = sorted({STORAGE[fmt] for fmt in formats})
    return data


# --- the datastore's CSV: bus ticket sales ---------------------------------------------------

BUS_PROVINCES = (("กรุงเทพมหานคร", 62), ("นนทบุรี", 12), ("สมุทรปราการ", 11), ("ปทุมธานี", 8), ("นครปฐม", 4),
                 ("สมุทรสาคร", 3))
PAYMENTS = (("เงินสด", 45), ("บัตรแมงมุม", 20), ("QR", 25), ("บัตรสวัสดิการ", 10))
CSV_HEADER = ("trip_date", "route", "direction", "stop_id", "province", "depart_time", "bus_type", "passengers",
              "fare_baht", "payment")


def bus_stops(count: int = 4000, *, seed: int = SEED) -> list[tuple[str, str]]:
    """(stop id, province) of `count` stops."""
    rng = random.Random(seed)
    names = [name for name, _ in BUS_PROVINCES]
    weights = [weight for _, weight in BUS_PROVINCES]
    return [(f"S{index:05d}", rng.choices(names, weights=weights)[0]) for index in range(1, count + 1)]


def write_bus_csv(path: Path, rows: int, *, seed: int = SEED) -> Path:
    """A CSV of bus ticket sales: `rows` rows, ~80 bytes each (written once, then reused)."""
    if path.exists() and path.stat().st_size > 0:
        return path
    rng = random.Random(seed + rows)
    stops = bus_stops(seed=seed)
    routes = [str(n) for n in range(1, 180)] + [f"ปอ.{n}" for n in range(500, 560)] + [f"{a}-{b}" for a in range(1, 5)
                                                                                     for b in range(1, 40)]
    payments = [name for name, _ in PAYMENTS]
    payment_weights = [weight for _, weight in PAYMENTS]
    fares = ("8.00", "10.00", "12.00", "15.00", "20.00", "25.00")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        day = 0
        for index in range(rows):
            if index % 3000 == 0:
                day = rng.randrange(365)
            stop_id, province = stops[rng.randrange(len(stops))]
            route = routes[rng.randrange(len(routes))]
            hour, minute = rng.randint(5, 22), rng.randrange(60)
            month, dom = divmod(day, 31)
            writer.writerow((f"2024-{min(month + 1, 12):02d}-{min(dom + 1, 28):02d}", route, rng.choice("12"), stop_id,
                             province, f"{hour:02d}:{minute:02d}", "AC" if route.startswith("ปอ") else
                             rng.choice(("EV", "AC", "ORD")), rng.randint(0, 60), fares[rng.randrange(len(fares))],
                             rng.choices(payments, weights=payment_weights)[0]))
    temporary.rename(path)
    return path
