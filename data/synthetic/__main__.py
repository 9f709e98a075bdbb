"""``python -m data.synthetic``: write the synthetic ZuCo corpus (see ``data.synthetic.corpus``)."""
from data.synthetic.corpus import main

main()
